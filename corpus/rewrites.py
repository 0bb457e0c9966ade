"""Wrong Solver replies rewritten in the accepted solutions' stepwise form, each keeping its own answer.

They are the rejected side of `--pair-form formatted` preference pairs: both sides then are Formatter
rewrites, and only the answer (and the reasoning that reaches it) tells them apart. A rewrite is used
only when it is stepwise, keeps the reply's own answer and is still graded wrong against the key (a
Formatter that corrects the answer would make a pair of two right solutions).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

from autogen_core.models import SystemMessage, UserMessage
from distill.agents.clients import CachedClient, describe_role
from distill.grading.pool import Grader
from distill.grading.solution_format import check_format
from distill.problems.schema import Problem
from distill.prompts import load_template

from distill.config import ModelRole
from distill.errors import EndpointError
from distill.io import content_hash
from distill.reasoning import split_inline
from distill.usage import Usage

from .transcripts import Transcript, TranscriptStore, WrongRewrite, solver_rounds, wrong_rounds

TEMPLATE = "formatter_wrong"


def rewrite_fingerprint(t: Transcript, round: int, reply: str, prompts_dir, role: ModelRole) -> str:
    """What decides a rewrite: the transcript, the reply, the template and system prompt, the Formatter model."""
    tpl, system = load_template(TEMPLATE, prompts_dir), load_template("formatter_system", prompts_dir)
    return content_hash({"transcript": t.fingerprint, "round": round, "reply": reply, "template": tpl.sha256, "system": system.sha256,
                         "role": describe_role(role)}, 32)


async def rewrite_wrong(t: Transcript, round: int, problem: Problem, *, client: CachedClient, grader: Grader, fingerprint: str,
                        prompts_dir=None) -> WrongRewrite:
    """One wrong reply rewritten, and checked: stepwise, its own answer kept, still wrong against the key."""
    _, answer_part = split_inline(solver_rounds(t)[round][1].content)
    graded = t.verdicts[round].verdict if round < len(t.verdicts) else None
    own = (graded.extracted if graded else None) or ""
    tpl, system = load_template(TEMPLATE, prompts_dir), load_template("formatter_system", prompts_dir)
    base = dict(problem_id=t.problem_id, sample=t.sample, round=round, answer=own, transcript_fingerprint=t.fingerprint, template_sha256=tpl.sha256,
                fingerprint=fingerprint)
    if not own:
        return WrongRewrite(**base, text=None, ok=False, problem="the reply states no answer to keep")
    messages = [SystemMessage(content=system.render()),
                UserMessage(content=tpl.render(problem=problem.text, solution=answer_part, answer=own), source="verifier")]
    result = await client.create(messages)
    text = (result.content if isinstance(result.content, str) else "").strip()
    issue = "truncated" if result.finish_reason == "length" else check_format(text)
    verdict = None
    if issue is None:
        kept = await grader.agrade(own, text)
        verdict = await grader.agrade(problem.answer, text)
        if kept.correct is not True:
            issue = f"the rewrite's answer {kept.extracted!r} is not the reply's own {own!r}"
        elif verdict.correct is not False:
            issue = "the rewrite is not graded wrong against the key"
    return WrongRewrite(**base, text=text or None, ok=issue is None, problem=issue, verdict=verdict, usage=Usage.of(result.usage))


def rewrite_jobs(transcripts: Sequence[Transcript], problems: dict[str, Problem]) -> list[tuple[Transcript, int]]:
    """(transcript, round) of every wrong reply of the given transcripts."""
    return [(t, r) for t in transcripts if t.problem_id in problems for r in wrong_rounds(t)]


async def run_rewrites(jobs: Sequence[tuple[Transcript, int]], problems: dict[str, Problem], *, store: TranscriptStore, client: CachedClient,
                       grader: Grader, role: ModelRole, prompts_dir=None, concurrency: int = 8,
                       on_done: Callable[[WrongRewrite], None] | None = None) -> Counter:
    """Rewrite the wrong reply of each job (a stored rewrite with the same fingerprint is kept); returns counts: rewrites, ok, refused (checked and not used), failed (the call failed)."""
    sem = asyncio.Semaphore(concurrency)
    counts: Counter = Counter()
    stopped: list[EndpointError] = []

    async def one(t: Transcript, round: int) -> None:
        fp = rewrite_fingerprint(t, round, solver_rounds(t)[round][1].content, prompts_dir, role)
        existing = store.get_wrong(t.problem_id, t.sample, round)
        if existing is not None and existing.fingerprint == fp:
            w = existing
        else:
            async with sem:
                if stopped:
                    return
                try:
                    w = await rewrite_wrong(t, round, problems[t.problem_id], client=client, grader=grader, fingerprint=fp, prompts_dir=prompts_dir)
                except Exception as exc:
                    if isinstance(exc, EndpointError) and exc.fatal:
                        stopped.append(exc)
                    detail = exc.line() if isinstance(exc, EndpointError) else f"{type(exc).__name__}: {exc}"
                    counts["failed"] += 1
                    if on_done:
                        on_done(WrongRewrite(problem_id=t.problem_id, sample=t.sample, round=round, answer="", text=None, ok=False,
                                             problem=detail[:300], fingerprint="failed"))
                    return  # nothing stored: the next run asks again
            store.put_wrong(w)
        counts["rewrites"] += 1
        counts["ok" if w.ok else "refused"] += 1
        if on_done:
            on_done(w)

    await asyncio.gather(*(one(t, r) for t, r in jobs))
    if stopped:
        raise stopped[0]
    return counts


__all__ = ["TEMPLATE", "rewrite_fingerprint", "rewrite_jobs", "rewrite_wrong", "run_rewrites"]
