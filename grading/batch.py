"""Grade many (key, response) records: rules in the process pool, then the judge where asked."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .grader import Verdict
from .judge import Judge
from .pool import Grader


async def grade_records(
    keys: Sequence[str],
    responses: Sequence[str],
    grader: Grader,
    *,
    judge: Judge | None = None,
    audit: bool = False,
    problems: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
    on_verdict: Callable[[int, Verdict], None] | None = None,
) -> list[Verdict]:
    """Rules first for every record; the judge for undecided ones (all of them with `audit`)."""
    rule_verdicts = await asyncio.gather(*(grader.agrade(k, r) for k, r in zip(keys, responses)))
    out = list(rule_verdicts)

    async def consult(i: int) -> None:
        out[i] = await judge.review(  # type: ignore[union-attr]
            out[i], problem=problems[i] if problems else "", key=keys[i], response=responses[i], record_id=ids[i] if ids else i
        )

    if judge is not None:
        todo = [i for i, v in enumerate(out) if audit or v.correct is None]
        await asyncio.gather(*(consult(i) for i in todo))
    if on_verdict:
        for i, v in enumerate(out):
            on_verdict(i, v)
    return out


def summarise(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    counts = Counter({True: "correct", False: "wrong", None: "undecided"}[v.correct] for v in verdicts)
    return {
        "total": len(verdicts),
        "correct": counts.get("correct", 0),
        "wrong": counts.get("wrong", 0),
        "undecided": counts.get("undecided", 0),
        "by_method": dict(sorted(Counter(v.method for v in verdicts).items())),
    }
