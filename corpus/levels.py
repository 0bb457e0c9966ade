"""Length levels R1..R6: restate each accepted solution shorter, keeping the boxed answer.

R1 is the accepted stepwise solution itself (the study's R1 averaged ~220 words); R2..R6 are
restatements by the verifier model from the templates `prompts/levels/rK.md`, whose target word
counts fall to ~30 at R6. Each restatement is checked to keep the correct boxed answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from autogen_core.models import AssistantMessage, SystemMessage, UserMessage
from distill.agents.clients import CachedClient, describe_role
from distill.grading.pool import Grader
from distill.grading.solution_format import check_format
from distill.problems.schema import Problem
from distill.prompts import load_template

from distill.config import ModelRole
from distill.errors import DistillError, EndpointError
from distill.io import content_hash
from distill.usage import Usage

from .transcripts import LevelText, Transcript, TranscriptStore

LEVELS = ("R1", "R2", "R3", "R4", "R5", "R6")


def word_count(text: str) -> int:
    return len(text.split())


def parse_levels(spec: str | None) -> list[str]:
    if not spec:
        return list(LEVELS)
    out = []
    for part in spec.upper().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in LEVELS or b not in LEVELS:
                raise DistillError(f"unknown level range {part!r}; levels are R1..R6")
            if LEVELS.index(a) > LEVELS.index(b):
                raise DistillError(f"level range {part!r} goes down; write it upwards, e.g. {b}-{a}")
            out.extend(LEVELS[LEVELS.index(a) : LEVELS.index(b) + 1])
        elif part in LEVELS:
            out.append(part)
        else:
            raise DistillError(f"unknown level {part!r}; levels are R1..R6")
    return sorted(set(out), key=LEVELS.index)


def r1_level(t: Transcript) -> LevelText:
    text = t.solution or ""
    return LevelText(problem_id=t.problem_id, level="R1", text=text, words=word_count(text), ok=bool(text),
                     fingerprint=t.fingerprint, template_sha256=t.templates.get("formatter"))


DEFAULT_BAND = (0.5, 1.5)


def parse_band(spec: str | tuple[float, float] | None) -> tuple[float, float]:
    """`0.5,1.5` -> (0.5, 1.5): the share of the target a restatement may have."""
    if spec is None:
        return DEFAULT_BAND
    lo, hi = (float(x) for x in spec.split(",")) if isinstance(spec, str) else spec
    if not 0 <= lo < hi:
        raise DistillError(f"word band {lo},{hi}: expected LOW,HIGH with 0 <= LOW < HIGH, e.g. 0.5,1.5")
    return lo, hi


def level_fingerprint(t: Transcript, level: str, prompts_dir, role: ModelRole, band: tuple[float, float] = DEFAULT_BAND) -> str:
    """What decides a level text: the transcript, the level, feedback and system templates, the verifier model, the band."""
    if level == "R1":
        return t.fingerprint
    tpl = load_template(f"levels/{level.lower()}", prompts_dir)
    system = load_template("formatter_system", prompts_dir)
    feedback = load_template("levels/feedback", prompts_dir)
    return content_hash({"transcript": t.fingerprint, "solution": t.solution, "template": tpl.sha256, "system": system.sha256,
                         "feedback": feedback.sha256, "role": describe_role(role), "band": list(band)}, 32)


async def restate(
    t: Transcript,
    problem: Problem,
    level: str,
    *,
    client: CachedClient,
    grader: Grader,
    role: ModelRole,
    prompts_dir=None,
    band: tuple[float, float] = DEFAULT_BAND,
) -> LevelText:
    """Restate at `level`; a text outside the template's word band gets one retry with feedback, and is
    otherwise kept as `off_target` (left out of that level's export)."""
    tpl = load_template(f"levels/{level.lower()}", prompts_dir)
    system = load_template("formatter_system", prompts_dir)
    fp = level_fingerprint(t, level, prompts_dir, role, band)
    target = tpl.number("target_words")  # declared in the template's front matter, and rendered into its prose
    prompt = tpl.render(problem=problem.text, solution=t.solution, answer=t.final_answer or problem.answer)
    messages: list = [SystemMessage(content=system.render()), UserMessage(content=prompt, source="verifier")]
    usage = Usage()
    for attempt in (1, 2):
        result = await client.create(messages)
        usage = usage + Usage.of(result.usage)
        text = result.content if isinstance(result.content, str) else ""
        words = word_count(text)
        off = target is not None and not band[0] * target <= words <= band[1] * target
        if not off or attempt == 2 or result.finish_reason == "length":
            break
        feedback = load_template("levels/feedback", prompts_dir).render(words=words, target=target)
        messages = [*messages, AssistantMessage(content=text, source="verifier"), UserMessage(content=feedback, source="verifier")]
    issue = "truncated" if result.finish_reason == "length" else check_format(text)
    verdict = None
    if issue is None:
        verdict = await grader.agrade(problem.answer, text)
        if verdict.correct is not True:
            issue = f"boxed answer {verdict.extracted!r} does not equal the key"
    if issue is None and off:
        issue = f"off target: {words} words against about {target} (band {band[0]:g}x-{band[1]:g}x), after one retry"
    return LevelText(problem_id=t.problem_id, level=level, sample=t.sample, text=text.strip() or None, words=words, ok=issue is None,
                     off_target=issue is not None and off, target_words=target, problem=issue, verdict=verdict,
                     template_sha256=tpl.sha256, fingerprint=fp, usage=usage)


async def run_levels(
    transcripts: Sequence[Transcript],
    problems: dict[str, Problem],
    levels: Sequence[str],
    *,
    store: TranscriptStore,
    client: CachedClient,
    grader: Grader,
    role: ModelRole,
    prompts_dir=None,
    concurrency: int = 8,
    band: tuple[float, float] = DEFAULT_BAND,
    on_done: Callable[[LevelText], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Restate every accepted transcript at every level; returns per-level counts and mean words."""
    sem = asyncio.Semaphore(concurrency)
    results: list[LevelText] = []
    stopped: list[EndpointError] = []  # a fatal endpoint failure: no point in asking again

    async def one(t: Transcript, level: str) -> None:
        existing = store.get_level(t.problem_id, level)
        if existing is not None and (existing.ok or existing.off_target) and existing.fingerprint == level_fingerprint(t, level, prompts_dir, role, band):
            lt = existing
        elif level == "R1":
            lt = r1_level(t)
            store.put_level(lt)
        else:
            async with sem:
                if stopped:
                    return
                try:
                    lt = await restate(t, problems[t.problem_id], level, client=client, grader=grader, role=role, prompts_dir=prompts_dir,
                                       band=band)
                except Exception as exc:
                    if isinstance(exc, EndpointError) and exc.fatal:
                        stopped.append(exc)
                    detail = exc.line() if isinstance(exc, EndpointError) else f"{type(exc).__name__}: {exc}"
                    lt = LevelText(problem_id=t.problem_id, level=level, text=None, ok=False, problem=detail[:300], fingerprint="failed")
            store.put_level(lt)
        assert lt is not None
        results.append(lt)
        if on_done:
            on_done(lt)

    accepted = [t for t in transcripts if t.status == "accepted" and t.problem_id in problems]
    await asyncio.gather(*(one(t, lv) for t in accepted for lv in levels))
    if stopped:
        raise stopped[0]
    table: dict[str, dict[str, float]] = {}
    for lv in levels:
        rows = [r for r in results if r.level == lv]
        ok = [r for r in rows if r.ok]
        off = [r for r in rows if r.off_target]
        targets = [r.target_words for r in rows if r.target_words]
        table[lv] = {"texts": len(rows), "ok": len(ok), "off_target": len(off), "failed": len(rows) - len(ok) - len(off),
                     "target_words": targets[0] if targets else None,
                     "mean_words": round(sum(r.words for r in ok) / len(ok), 1) if ok else 0.0,
                     "mean_words_all": round(sum(r.words for r in written) / len(written), 1) if (written := [r for r in rows if r.text]) else 0.0}
    return table
