"""The corpus stage as service calls: run, levels, export. `distill corpus ...` and `distill study run`
are both thin callers of these, so nothing about a step (clients, grader, concurrency, decontamination)
can differ between the two front doors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distill.grading.pool import Grader
from distill.problems.schema import Problem
from distill.problems.store import ProblemStore, StoredProblems, partition

from distill.config import Settings
from distill.errors import DistillError
from distill.workspace import Workspace

from .export import ExportOptions, export_corpus
from .manifest import ExportManifest
from .runner import Budget, RunSummary, run_corpus
from .transcripts import Transcript, TranscriptStore


def open_store(ws: Workspace) -> TranscriptStore:
    return TranscriptStore(ws.ensure().transcripts_dir)


def open_grader(settings: Settings) -> Grader:
    """The grader every stage uses: one setting for its worker processes."""
    return Grader(workers=settings.grader_workers)


def usable_problems(ws: Workspace) -> StoredProblems:
    """Every problem with a real key, as places in the problem file (read again when iterated)."""
    problems = ProblemStore(ws.problems_file).select(lambda p: p.usable)
    if not problems.scanned:
        raise DistillError(f"no problems in the workspace {ws.root}; run `distill problems import` first")
    return problems


def role_clients(ws: Workspace, settings: Settings):
    """The Solver's and the Verifier's clients (one connection pool per endpoint, one disk cache)."""
    from distill.agents.clients import build_role_clients, open_cache

    clients = build_role_clients({"solver": settings.solver, "verifier": settings.verifier}, open_cache(ws.ensure().cache_dir))
    return clients["solver"], clients["verifier"]


# ----------------------------------------------------------------------------- corpus run

@dataclass(frozen=True)
class CorpusRequest:
    problems: Sequence[Problem]
    max_rounds: int
    concurrency: int
    samples: int = 1
    retry_rejected: bool = False
    max_cost: float | None = None
    prompts_dir: Path | None = None


def finished_costs(store: TranscriptStore) -> list[float]:
    """Costs of finished, priced samples: the estimate for the ones still to run."""
    return [t.cost_usd for t in store.all() if t.cost_usd > 0]


def run_corpus_stage(ws: Workspace, settings: Settings, req: CorpusRequest,
                     on_done: Callable[[Transcript, bool, RunSummary], None] | None = None) -> RunSummary:
    """Solver/Verifier conversations for the chosen problems; one transcript per sample."""
    from distill.agents.team import Templates

    if req.max_cost is not None and not (settings.solver.priced and settings.verifier.priced):
        raise DistillError("--max-cost needs prices: set price_input and price_output for the solver and verifier roles "
                           "(e.g. DISTILL_SOLVER__PRICE_OUTPUT=2.19; see distill.example.toml)")
    solver, formatter = role_clients(ws, settings)  # a missing key is said here, before any work
    store = open_store(ws)
    templates = Templates.load(req.prompts_dir)
    budget = Budget(req.max_cost) if req.max_cost is not None else None

    async def main() -> RunSummary:
        try:
            with open_grader(settings) as grader:
                return await run_corpus(req.problems, store=store, grader=grader, solver_client=solver, formatter_client=formatter,
                                        solver_role=settings.solver, verifier_role=settings.verifier, templates=templates,
                                        max_rounds=req.max_rounds, concurrency=req.concurrency, retry_rejected=req.retry_rejected,
                                        samples=req.samples, on_done=on_done, budget=budget)
        finally:  # close HTTP connections inside the loop that opened them
            await solver.close()
            await formatter.close()

    return asyncio.run(main())


# ----------------------------------------------------------------------------- levels

@dataclass(frozen=True)
class LevelsRequest:
    problems: Sequence[Problem]
    levels: Sequence[str]
    concurrency: int
    band: tuple[float, float]
    prompts_dir: Path | None = None


@dataclass
class LevelsResult:
    levels: dict[str, dict[str, float]]
    model_calls: int
    cached: int

    @property
    def failed(self) -> int:
        return int(sum(row["failed"] for row in self.levels.values()))


def run_levels_stage(ws: Workspace, settings: Settings, req: LevelsRequest, on_done: Callable[[object], None] | None = None) -> LevelsResult:
    """Restate the accepted solutions of the chosen problems at each level."""
    from .levels import run_levels

    store = open_store(ws)
    transcripts = [t for p in req.problems if (t := store.get(p.id)) is not None]
    if not any(t.status == "accepted" for t in transcripts):
        raise DistillError("no accepted transcripts for that selection; run `distill corpus run` first")
    _, client = role_clients(ws, settings)

    async def main():
        try:
            with open_grader(settings) as grader:
                return await run_levels(transcripts, {p.id: p for p in req.problems}, req.levels, store=store, client=client, grader=grader,
                                        role=settings.verifier, prompts_dir=req.prompts_dir, concurrency=req.concurrency, band=req.band,
                                        on_done=on_done)
        finally:
            await client.close()

    table = asyncio.run(main())
    return LevelsResult(table, client.stats.network, client.stats.cached)


@dataclass(frozen=True)
class RewritesRequest:
    problems: Sequence[Problem]
    concurrency: int
    prompts_dir: Path | None = None


@dataclass
class RewritesResult:
    counts: dict[str, int]
    jobs: int  # wrong replies in the selection; 0: nothing to rewrite, nothing asked
    model_calls: int
    cached: int


def run_rewrites_stage(ws: Workspace, settings: Settings, req: RewritesRequest, on_done: Callable[[object], None] | None = None,
                       on_total: Callable[[int], None] | None = None) -> RewritesResult:
    """Rewrite the wrong Solver replies of the chosen problems in stepwise form, each keeping its own answer.
    `on_total` hears how many there are before any is asked for."""
    from .rewrites import rewrite_jobs, run_rewrites

    store = open_store(ws)
    problems = {p.id: p for p in req.problems}
    jobs = rewrite_jobs([t for p in req.problems for t in store.samples(p.id)], problems)
    if on_total:
        on_total(len(jobs))
    if not jobs:
        return RewritesResult({k: 0 for k in REWRITE_COUNTS}, 0, 0, 0)
    _, client = role_clients(ws, settings)

    async def main():
        try:
            with open_grader(settings) as grader:
                return await run_rewrites(jobs, problems, store=store, client=client, grader=grader, role=settings.verifier,
                                          prompts_dir=req.prompts_dir, concurrency=req.concurrency, on_done=on_done)
        finally:
            await client.close()

    counts = asyncio.run(main())
    return RewritesResult({k: counts.get(k, 0) for k in REWRITE_COUNTS}, len(jobs), client.stats.network, client.stats.cached)


REWRITE_COUNTS = ("rewrites", "ok", "refused", "failed")


def accepted_count(ws: Workspace, problems: Sequence[Problem]) -> int:
    store = open_store(ws)
    return sum(1 for p in problems if (t := store.get(p.id)) is not None and t.status == "accepted")


# ----------------------------------------------------------------------------- export

@dataclass(frozen=True)
class ExportRequest:
    out_dir: Path
    options: ExportOptions = field(default_factory=ExportOptions)
    source: str | None = None  # None: every source with transcripts


@dataclass(frozen=True)
class TrainingSplit:
    """Who is trained on and who is checked against: the training candidates are the chosen sources'
    problems outside the valid and test years; every other imported problem is an evaluation problem."""

    sources: set[str]
    candidates: Sequence[Problem]
    evaluation: Sequence[Problem]
    problems: Sequence[Problem]  # the chosen sources' problems, every year (for the splits)


def training_split(every: Sequence[Problem], store: TranscriptStore, source: str | None, valid_years: Sequence[int],
                   test_years: Sequence[int]) -> TrainingSplit:
    """The three views of `every` (ids are unique in a problem set, so "not a candidate" is the evaluation side)."""
    sources = {source} if source else _sources_with_transcripts(every, store)
    held = set(valid_years) | set(test_years)

    def candidate(p: Problem) -> bool:
        return p.source in sources and p.year not in held

    return TrainingSplit(sources, *partition(every, candidate, lambda p: not candidate(p), lambda p: p.source in sources))


def _sources_with_transcripts(every: Iterable[Problem], store: TranscriptStore) -> set[str]:
    found: set[str] = set()
    for p in every:
        if p.source not in found and store.has(p.id):
            found.add(p.source)
    return found


def export_stage(ws: Workspace, req: ExportRequest) -> ExportManifest:
    """Write one level's train/valid/test files; training candidates that overlap any problem not trained
    on (other sources, the valid and test years) are left out unless `keep_contaminated`."""
    store = open_store(ws)
    o = req.options
    split = training_split(usable_problems(ws), store, req.source, o.valid_years, o.test_years)
    if not split.sources:
        raise DistillError("no transcripts yet; run `distill corpus run` first")
    return export_corpus(split.problems, store, req.out_dir, o, evaluation=split.evaluation)


__all__ = ["CorpusRequest", "ExportRequest", "LevelsRequest", "LevelsResult", "TrainingSplit", "export_stage", "open_grader",
           "open_store", "role_clients", "run_corpus_stage", "run_levels_stage", "training_split", "usable_problems"]
