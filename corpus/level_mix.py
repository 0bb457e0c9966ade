"""What `corpus export --level` can ask for besides one level: `all` (every problem at every level, each with
its level's instruction in the student prompt: one length-conditioned student) and `mix:R1=0.5,R6=0.5`
(each problem at one level, drawn by shares with the export's seed, the prompt unchanged: mix distillation)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from distill.errors import DistillError

from .levels import LEVELS


@dataclass(frozen=True)
class LevelSpec:
    kind: str  # one | all | mix
    levels: tuple[str, ...]
    shares: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        if self.kind == "mix":
            return "mix:" + ",".join(f"{lv}={s:g}" for lv, s in zip(self.levels, self.shares))
        return "all" if self.kind == "all" else self.levels[0]

    @property
    def conditioned(self) -> bool:
        return self.kind == "all"


def parse_level_spec(spec: str) -> LevelSpec:
    """`R3`, `trace`, `all` or `mix:R1=0.5,R6=0.5` (shares of problems; they must add up to 1)."""
    s = spec.strip()
    if s.lower() == "all":
        return LevelSpec("all", LEVELS)
    if s.lower() == "trace":
        return LevelSpec("one", ("trace",))
    if s.lower().startswith("mix:"):
        levels, shares = [], []
        for part in s[4:].split(","):
            name, eq, share = part.partition("=")
            lv = name.strip().upper()
            if lv not in LEVELS or not eq:
                raise DistillError(f"--level {spec!r}: expected mix:R1=0.5,R6=0.5 (levels R1..R6 with their shares)")
            try:
                x = float(share)
            except ValueError:
                raise DistillError(f"--level {spec!r}: share {share.strip()!r} of {lv} is not a number") from None
            if not 0 < x <= 1 or lv in levels:
                raise DistillError(f"--level {spec!r}: each level once, with a share above 0 and at most 1")
            levels.append(lv)
            shares.append(x)
        if abs(sum(shares) - 1) > 1e-6:
            raise DistillError(f"--level {spec!r}: the shares add up to {sum(shares):g}, not 1")
        return LevelSpec("mix", tuple(levels), tuple(shares))
    if s.upper() in LEVELS:
        return LevelSpec("one", (s.upper(),))
    raise DistillError(f"--level {spec!r}: expected R1..R6, trace, all, or mix:R1=0.5,R6=0.5")


def assign_levels(problem_ids: Sequence[str], spec: LevelSpec, seed: int) -> dict[str, str]:
    """One level per problem for a mix: each level's count is its share of the problems rounded by largest
    remainder (so within one problem of its share), the problems drawn in an order shuffled by `seed`."""
    ids = sorted(problem_ids)
    random.Random(seed).shuffle(ids)
    exact = [s * len(ids) for s in spec.shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))[: len(ids) - sum(counts)]:
        counts[i] += 1
    out, start = {}, 0
    for lv, n in zip(spec.levels, counts):
        out.update({pid: lv for pid in ids[start:start + n]})
        start += n
    return out
