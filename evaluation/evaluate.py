"""`distill eval run`: generate, grade, record; resumable; summary recomputed from the records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distill.corpus.prompt import StudentPrompt
from distill.grading.batch import grade_records
from distill.grading.judge import Judge
from distill.grading.pool import Grader
from distill.grading.version import grader_version
from distill.problems.schema import Problem
from pydantic import BaseModel, ConfigDict, Field

from distill.errors import DistillError
from distill.io import append_jsonl, atomic_write_jsonl, content_hash, read_jsonl_records, read_record, write_record
from distill.usage import Usage

from .backends import Backend, MlxBackend, Sampling
from .metrics import sample_metrics
from .card import build_card, write_card
from .records import REGRADE_KEYS, EvalConfig, EvalSummary, ResponseRecord, read_records
from .stats import summarise_records


# --------------------------------------------------------------------------- the loop

@dataclass
class Loop:
    """What the generate-and-grade loop shares: the backend, prompts, grader and judge, and the
    event loop in which the judge's HTTP connections live."""

    backend: Backend
    prompts: dict[str, Any]
    sampling: Sampling
    seed: int
    level: str
    grader: Grader
    judge: Judge | None
    resp_path: Path
    chunk: int
    loop: asyncio.AbstractEventLoop
    timing: dict[str, float] = field(default_factory=lambda: {"generation_s": 0.0, "grading_s": 0.0, "generated": 0})


def run_evaluation(
    problems: Sequence[Problem],
    backend: Backend,
    out: Path,
    *,
    runs: int = 1,
    seed: int = 0,
    level: str = "R1",
    sampling: Sampling = Sampling(),
    grader: Grader,
    judge: Judge | None = None,
    prompts_dir=None,
    prompt_levels: bool = False,
    chunk: int = 32,
    spec: str = "",
    samples: int = 1,
    ks: Sequence[int] = (1, 4, 8, 16),
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalSummary:
    """Generate `samples` answers per problem in each of `runs` seeded runs, grade them, write
    responses.jsonl line by line (resumable) and summary.json (recomputed from the records)."""
    out.mkdir(parents=True, exist_ok=True)
    student = StudentPrompt.load(prompts_dir, level_instruction=prompt_levels)
    config = EvalConfig(spec=spec, problems=sorted(p.id for p in problems), backend=backend.describe(), sampling=sampling.as_dict(),
                        samples=samples, runs=runs, seed=seed, level=level, prompt_levels=prompt_levels, templates=student.hashes,
                        grader=grader_version(),
                        judge={"role": judge.role, "templates": judge.template_hashes} if judge is not None else None)
    regrade_first = _check_resume(out, config)
    resp_path = out / "responses.jsonl"
    write_card(out, build_card(config.backend, config.sampling, templates=student.hashes, seed=seed, runs=runs, samples=samples,
                               grader=config.grader, judge=config.judge))
    if regrade_first and resp_path.exists():  # only the grader (or the judge) changed: the stored responses are graded again
        from .regrade import regrade

        regrade(out, grader, judge=judge, problem_texts={p.id: p.text for p in problems}, loop=None)
    if regrade_first:
        write_record(out / "eval_config.json", config)
    done = _resume_records(resp_path)
    total = len(problems) * runs * samples
    finished = sum((p.id, k, j) in done for k in range(runs) for p in problems for j in range(samples))
    t_all = time.perf_counter()
    ctx = Loop(backend, {p.id: student.messages(p, level) for p in problems}, sampling, seed, level, grader, judge, resp_path, chunk,
               asyncio.new_event_loop())  # one loop for every chunk: the judge's HTTP connections live in it
    try:
        _generate_and_grade(ctx, problems, runs, samples, done, lambda n: on_progress(finished + n, total) if on_progress else None)
    finally:
        ctx.loop.close()
    wall = time.perf_counter() - t_all
    final = read_records(resp_path)
    summary = summarise_records(final)
    if samples > 1:
        summary["sample_metrics"] = sample_metrics(final, ks)
    summary["decoding"] = decoding_setup(backend, sampling, samples=samples, runs=runs, seed=seed, templates=student.hashes,
                                         grader=config.grader, judge=config.judge, level=level, prompt_levels=prompt_levels)
    timing = ctx.timing
    summary.update({"spec": spec, "level": level, "backend": config.backend, "sampling": config.sampling,
                    "seed": seed, "templates": student.hashes, "grader": config.grader, "judge": config.judge, "prompt_levels": prompt_levels,
                    "this_session": {**timing, "wall_s": wall,
                                     "outside_generation_share": (wall - timing["generation_s"]) / wall if wall > 0 and timing["generated"] else None}})
    record = EvalSummary.model_validate(summary)
    write_record(out / "summary.json", record)
    return record


def _check_resume(out: Path, config: EvalConfig) -> bool:
    """True when the folder's evaluation differs only in its grader or judge (its responses are regraded, not regenerated)."""
    cfg_path = out / "eval_config.json"
    regrade = False
    if cfg_path.exists():
        old = read_record(cfg_path, EvalConfig, "an evaluation's settings", "choose another --out")
        changed = config.changed_from(old)
        if changed and not set(changed) <= set(REGRADE_KEYS):
            raise DistillError(f"holds an evaluation with other settings ({', '.join(changed)}); choose another --out", path=out)
        regrade = bool(changed)
    if not regrade:
        write_record(cfg_path, config)
    return regrade


def _resume_records(resp_path: Path) -> set[tuple[str, int, int]]:
    """The (problem, run, sample) already answered; a torn last line and replaced records are dropped first."""
    records = read_records(resp_path)
    raw = resp_path.read_text(encoding="utf-8") if resp_path.exists() else ""
    if raw and (not raw.endswith("\n") or sum(1 for ln in raw.splitlines() if ln.strip()) != len(records)):
        atomic_write_jsonl(resp_path, (r.model_dump(mode="json") for r in records))
    # a generation error (endpoint down, HTTP 500) is not an answer: resuming asks again
    return {(r.problem_id, r.run, r.sample) for r in records if r.finish_reason != "error"}


def decoding_setup(backend: Backend, sampling: Sampling, **rest: Any) -> dict[str, Any]:
    """Everything that decides the numbers, carried with them: runs with different setups are never pooled."""
    desc = backend.describe()
    adapter = desc.get("adapter")
    weights = Path(adapter) / "adapters.safetensors" if adapter else None
    return {**desc, "adapter_sha256": content_hash(weights.read_bytes(), 16) if weights and weights.exists() else None,
            **sampling.as_dict(), **rest}


def split_thinking(text: str) -> tuple[int, int]:
    """(thinking words, answer words): the words inside <think>...</think> (or a block the template
    opened) and those after it, read by the one reader of reasoning shapes."""
    from distill.reasoning import split_inline

    thinking, answer = split_inline(text)
    return len((thinking or "").split()), len(answer.split())


def plan_seed(seed: int, run: int, index: int) -> int:
    """The seed of item `index` of run `run` in the full plan (problems x samples, in order): fixed by the evaluation's
    seed and the item's position, never by what is pending, so a resumed run draws what an uninterrupted one drew."""
    return ((seed * 1_000_003 + run) * 1_000_003 + index) % 2**31


def _grade_and_write(ctx: Loop, k: int, part, gens, seeds: Sequence[int]) -> None:
    t1 = time.perf_counter()
    verdicts = ctx.loop.run_until_complete(grade_records([p.answer for p, _ in part], [g.text for g in gens], ctx.grader, judge=ctx.judge,
                                                         problems=[p.text for p, _ in part], ids=[p.id for p, _ in part]))
    ctx.timing["grading_s"] += time.perf_counter() - t1
    for (p, j), g, v, used in zip(part, gens, verdicts, seeds):
        thinking, answer = split_thinking(g.text)
        rec = ResponseRecord(problem_id=p.id, run=k, sample=j, seed=used, level=ctx.level, source=p.source,
                             year=p.year, section=p.section, subject=p.subject, difficulty=p.level, key=p.answer, response=g.text,
                             words=len(g.text.split()), usage=Usage(completion_tokens=g.tokens), finish_reason=g.finish_reason,
                             forced=g.forced, thinking_words=thinking, answer_words=answer, endpoint=g.endpoint, verdict=v)
        append_jsonl(ctx.resp_path, rec.model_dump(mode="json"))


def _generate_and_grade(ctx: Loop, problems: Sequence[Problem], runs: int, samples: int, done: set, progress: Callable[[int], None]) -> None:
    """Generate chunk after chunk; grade each chunk in a helper thread while the next one generates. Chunks are fixed
    slices of each run's full plan (problems x samples), each with the seeds it always has (plan_seed): a chunk with
    anything unanswered is generated whole again and its unanswered items are written, so a resumed evaluation
    gives what an uninterrupted one gives. Chunks are graded and written in order."""
    from concurrent.futures import ThreadPoolExecutor

    written = 0

    def grade(k: int, part, gens, seeds) -> None:
        nonlocal written
        _grade_and_write(ctx, k, part, gens, seeds)
        written += len(part)
        progress(written)

    with ThreadPoolExecutor(1, thread_name_prefix="grading") as pool:
        grading = None
        try:
            for k in range(runs):
                items = [(p, j) for p in problems for j in range(samples)]
                for start in range(0, len(items), ctx.chunk):
                    part = items[start : start + ctx.chunk]
                    missing = [i for i, (p, j) in enumerate(part) if (p.id, k, j) not in done]
                    if not missing:
                        continue
                    seeds = [plan_seed(ctx.seed, k, start + i) for i in range(len(part))]
                    if isinstance(ctx.backend, MlxBackend):
                        # mlx-lm's batches draw from one key for the whole chunk: the chunk is what a seed reproduces
                        asked, used = list(range(len(part))), [seeds[0]] * len(part)
                    else:  # an endpoint request carries each item's own seed: only what is missing is asked
                        asked, used = missing, seeds
                    t0 = time.perf_counter()
                    gens = ctx.backend.generate([ctx.prompts[part[i][0].id] for i in asked], ctx.sampling, used[asked[0]],
                                                seeds=[used[i] for i in asked])
                    by_item = dict(zip(asked, gens))
                    ctx.timing["generation_s"] += time.perf_counter() - t0
                    ctx.timing["generated"] += len(asked)
                    if grading is not None:
                        grading.result()  # the previous chunk is written before this one
                    grading = pool.submit(grade, k, [part[i] for i in missing], [by_item[i] for i in missing], [used[i] for i in missing])
        finally:
            if grading is not None:
                grading.result()
            if ctx.judge is not None:
                pool.submit(ctx.loop.run_until_complete, ctx.judge.client.close()).result()
