"""Grade many (key, response) records: rules in the process pool, then the judge where asked."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from distill.errors import EndpointError

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
) -> list[Verdict]:
    """Rules first for every record; the judge for undecided ones (all of them with `audit`)."""
    verdicts = await grader.agrade_many(list(zip(keys, responses)))
    if judge is None:
        return verdicts
    return await consult_judge(verdicts, keys, responses, judge, audit=audit, problems=problems, ids=ids)


async def consult_judge(
    verdicts: Sequence[Verdict],
    keys: Sequence[str],
    responses: Sequence[str],
    judge: Judge,
    *,
    audit: bool = False,
    problems: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
) -> list[Verdict]:
    """The judge for the rules' undecided verdicts (all of them with `audit`). A failing judge never
    loses a verdict: the rule's stays, with the failure as its reason, and `judge.failure` says why."""
    out = list(verdicts)

    async def consult(i: int) -> None:
        assert judge is not None
        if judge.failure is not None and judge.failure.fatal:
            out[i] = out[i].model_copy(update={"reason": f"{out[i].reason}; judge not asked: {judge.failure.line()}"})
            return
        try:
            out[i] = await judge.review(
                out[i], problem=problems[i] if problems else "", key=keys[i], response=responses[i], record_id=ids[i] if ids else i
            )
        except Exception as exc:  # a judge that fails leaves the rule verdict as it was, with the failure as its reason
            failure = exc if isinstance(exc, EndpointError) else getattr(judge.client, "last_error", None)
            if failure is None:
                failure = EndpointError("bad_request", "judge role", f"{type(exc).__name__}: {exc}"[:200], fatal=False)
            judge.failure = judge.failure or failure
            out[i] = out[i].model_copy(update={"reason": f"{out[i].reason}; judge failed: {failure.line()}"})

    todo = [i for i, v in enumerate(out) if audit or v.correct is None]
    await asyncio.gather(*(consult(i) for i in todo))
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
