"""A grader change reaches the corpus: an accepted transcript is re-checked with the current grader, without
any model call, when the grader that accepted it was another version. Its verified Solver reply and its formatted
solution must both still be graded correct against the key; one that is not is re-opened by `corpus run` (its
cached calls replay, and the conversation goes on from the first reply the current grader refuses)."""

from __future__ import annotations

from collections.abc import Iterable

from distill.grading.pool import Grader
from distill.grading.version import grader_version

from .transcripts import Transcript, solver_rounds


def is_stale(t: Transcript) -> bool:
    """Accepted under another grader version (or before versions were recorded)."""
    return t.status == "accepted" and t.grader_version != grader_version()


def _checks(t: Transcript) -> list[tuple[str, str]]:
    rounds = solver_rounds(t)
    verified = next((m for _, m, ok in reversed(rounds) if ok), rounds[-1][1] if rounds else None)
    pairs = [(t.key, verified.content if verified else "")]
    if t.solution:
        pairs.append((t.key, t.solution))
    return pairs


def why_rejected(t: Transcript, verdicts: list) -> str | None:
    """None when the current grader still accepts the transcript; else one line saying which part it refuses."""
    what = ("the verified reply", "the formatted solution")
    for name, v in zip(what, verdicts):
        if v.correct is not True:
            return f"{name} is now graded {'wrong' if v.correct is False else 'undecided'}: {v.reason}"
    return None


async def recheck(t: Transcript, grader: Grader) -> str | None:
    return why_rejected(t, [await grader.agrade(k, r) for k, r in _checks(t)])


def recheck_many(transcripts: Iterable[Transcript], grader: Grader) -> dict[tuple[str, int], str]:
    """(problem id, sample) -> why, for every stale accepted transcript the current grader rejects (one batch)."""
    stale = [t for t in transcripts if is_stale(t)]
    pairs = [_checks(t) for t in stale]
    flat = grader.grade_many([p for ps in pairs for p in ps]) if stale else []
    out, i = {}, 0
    for t, ps in zip(stale, pairs):
        why = why_rejected(t, flat[i:i + len(ps)])
        i += len(ps)
        if why is not None:
            out[(t.problem_id, t.sample)] = why
    return out
