"""Preference pairs out of the corpus, for DPO/ORPO (mlx-lm-lora's `{prompt, chosen, rejected}` rows).

What the corpus already holds and supervised fine-tuning throws away:
- `samples`: with `corpus run --samples K`, a verified sample over a failed (rejected) one of the same problem;
- `rounds`: the Verifier's rejected rounds (a wrong, missing or truncated answer) against the accepted answer;
- `shorter` (with `--prefer shorter`): among verified samples, the shortest over the longest.
The chosen text is the accepted solution as the student is trained on it (the Formatter's stepwise
rewrite); a rejected text is the Solver's own reply, since only verified answers are rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from .samples import ProblemSamples
from .transcripts import Transcript

PAIR_KINDS = ("samples", "rounds", "shorter")


@dataclass(frozen=True)
class Pair:
    problem_id: str
    kind: str
    chosen: str
    rejected: str


def _last_solver_reply(t: Transcript) -> str | None:
    replies = [m.content for m in t.messages if m.source == "solver" and m.content.strip()]
    return replies[-1] if replies else None


def _rejected_rounds(t: Transcript) -> list[str]:
    """The Solver's replies before its accepted one (each answered by the Verifier's feedback)."""
    replies = [m.content for m in t.messages if m.source == "solver" and m.content.strip()]
    return replies[:-1] if t.status == "accepted" else []


def preference_pairs(ps: ProblemSamples, prefer_shorter: bool = False) -> list[Pair]:
    """Every pair one problem's samples give; none when no sample was verified."""
    verified = [t for t in ps.verified if t.solution]
    if not verified:
        return []
    pid = ps.problem_id
    pairs: list[Pair] = []
    failed = [r for t in ps.samples if t.status == "rejected" and (r := _last_solver_reply(t))]
    for i, rejected in enumerate(failed):  # each failed sample against a verified one, in turn
        pairs.append(Pair(pid, "samples", verified[i % len(verified)].solution or "", rejected))
    for t in ps.samples:
        if t.status == "accepted" and t.solution:
            pairs += [Pair(pid, "rounds", t.solution, r) for r in _rejected_rounds(t)]
    if prefer_shorter and len(verified) > 1 and ps.shortest is not ps.longest:
        short, long_ = ps.shortest, ps.longest
        if short and long_ and len((short.solution or "").split()) < len((long_.solution or "").split()):
            pairs.append(Pair(pid, "shorter", short.solution or "", long_.solution or ""))
    return pairs


__all__ = ["PAIR_KINDS", "Pair", "preference_pairs"]
