"""Several Solver samples per problem: which were verified, the pass rate, and which to train on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from .transcripts import Transcript, TranscriptStore

Pick = Literal["first", "shortest", "longest", "all"]
PICKS = ("first", "shortest", "longest", "all")


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class ProblemSamples:
    """One problem's samples: verified ones deduplicated by normalised text, in sample order."""

    problem_id: str
    decided: int  # samples that reached a verdict (accepted or rejected); failed calls are not evidence
    accepted: int
    verified: tuple[Transcript, ...]
    samples: tuple[Transcript, ...] = ()  # every stored sample, failed ones included

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.samples)

    @property
    def pass_rate(self) -> float | None:
        """Verified / decided: also a difficulty estimate (1.0 easy for the teacher, 0.0 beyond it)."""
        return self.accepted / self.decided if self.decided else None

    @property
    def shortest(self) -> Transcript | None:
        return min(self.verified, key=lambda t: (len((t.solution or "").split()), t.sample), default=None)

    @property
    def longest(self) -> Transcript | None:
        return max(self.verified, key=lambda t: (len((t.solution or "").split()), -t.sample), default=None)

    def pick(self, how: Pick) -> list[Transcript]:
        if how == "all":
            return list(self.verified)
        chosen = {"first": self.verified[0] if self.verified else None, "shortest": self.shortest, "longest": self.longest}[how]
        return [chosen] if chosen is not None else []


def problem_samples(store: TranscriptStore, problem_id: str, limit: int | None = None) -> ProblemSamples:
    """The samples of one problem (the first `limit` of them, when given)."""
    ts = [t for t in store.samples(problem_id) if limit is None or t.sample < limit]
    seen: set[str] = set()
    verified = []
    for t in ts:
        if t.status == "accepted" and t.solution:
            key = normalised(t.solution)
            if key not in seen:
                seen.add(key)
                verified.append(t)
    decided = sum(t.status in ("accepted", "rejected") for t in ts)
    return ProblemSamples(problem_id, decided, sum(t.status == "accepted" for t in ts), tuple(verified), tuple(ts))


def pass_rate_histogram(items: list[ProblemSamples]) -> dict[str, int]:
    """Problems by pass rate, rounded to two places (e.g. {"0.25": 3, "1.0": 12})."""
    return dict(sorted(Counter(str(round(p.pass_rate, 2)) for p in items if p.pass_rate is not None).items()))
