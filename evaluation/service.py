"""The evaluation stage as one service call: `distill eval run` and the study's evaluate steps both
call `evaluate_stage`, so the backend, the judge (and its concurrency) and the grader are built one way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from distill.corpus.service import open_grader
from distill.problems.schema import Problem

from distill.config import ModelRole, Settings, check_url
from distill.errors import DistillError
from distill.workspace import Workspace

from .backends import EndpointBackend, MlxBackend, Sampling
from .records import EvalSummary


@dataclass(frozen=True)
class ModelSpec:
    """Who answers: a local model (with an optional adapter), or an endpoint role (optionally over several URLs)."""

    model: str | None = None
    adapter: Path | None = None
    endpoint: str | None = None
    urls: tuple[str, ...] = ()

    def check(self) -> None:
        if bool(self.model) == bool(self.endpoint):
            raise DistillError("choose one of --model PATH (local mlx-lm) or --endpoint ROLE (an OpenAI-compatible server)")
        if self.adapter and not self.model:
            raise DistillError("--adapter goes with --model")
        if self.urls and not self.endpoint:
            raise DistillError("--urls goes with --endpoint")


@dataclass(frozen=True)
class EvalRequest:
    problems: Sequence[Problem]
    out: Path
    who: ModelSpec
    sampling: Sampling = Sampling()
    runs: int = 1
    seed: int = 0
    level: str = "R1"
    samples: int = 1
    ks: Sequence[int] = (1, 4, 8, 16)
    judge: bool = True
    concurrency: int = 8  # requests to an endpoint, and the judge's
    batch_size: int = 8
    prompts_dir: Path | None = None
    prompt_levels: bool = False
    spec: str = ""


def build_backend(settings: Settings, who: ModelSpec, *, concurrency: int, batch_size: int):
    who.check()
    if who.model:
        return MlxBackend(who.model, who.adapter, batch_size=batch_size)
    role: ModelRole = settings.role(who.endpoint or "student")
    if who.urls:
        for u in who.urls:
            try:
                check_url(u)
            except ValueError as exc:
                raise DistillError(f"--urls: {exc}") from None
        role = role.model_copy(update={"base_url": who.urls[0], "extra_urls": list(who.urls[1:])})
    return EndpointBackend(role, concurrency=concurrency, role_name=who.endpoint or "student")


def make_judge(ws: Workspace, settings: Settings, prompts_dir: Path | None, concurrency: int):
    from distill.agents.clients import build_client, describe_role, open_cache
    from distill.grading.judge import Judge

    ws.ensure()
    client = build_client(settings.judge, open_cache(ws.cache_dir), role_name="judge")
    return Judge(client, prompts_dir=prompts_dir, concurrency=concurrency, log_path=ws.logs_dir / "judge_disagreements.jsonl",
                 role=describe_role(settings.judge))


def evaluate_stage(ws: Workspace, settings: Settings, req: EvalRequest,
                   on_progress: Callable[[int, int], None] | None = None) -> EvalSummary:
    """Generate, grade and summarise; resumable in `req.out`."""
    from .evaluate import run_evaluation

    if not req.problems:
        raise DistillError("no problems to evaluate")
    s = req.sampling
    if s.thinking_budget is not None and s.thinking_budget >= s.max_tokens:
        raise DistillError(f"--thinking-budget {s.thinking_budget} leaves no room for the answer under --max-tokens {s.max_tokens}")
    backend = build_backend(settings, req.who, concurrency=req.concurrency, batch_size=req.batch_size)
    judge = make_judge(ws, settings, req.prompts_dir, req.concurrency) if req.judge else None
    backend.check()  # an unreachable endpoint or a mismatched adapter fails here, before any generation
    chunk = req.batch_size * 2 if isinstance(backend, MlxBackend) else req.concurrency * 4 * len(backend.role.urls)
    with open_grader(settings) as grader:
        return run_evaluation(req.problems, backend, req.out, runs=req.runs, seed=req.seed, level=req.level, sampling=s, grader=grader,
                              judge=judge, prompts_dir=req.prompts_dir, prompt_levels=req.prompt_levels, spec=req.spec,
                              samples=req.samples, ks=req.ks, chunk=chunk, on_progress=on_progress)


__all__ = ["EvalRequest", "ModelSpec", "build_backend", "evaluate_stage", "make_judge"]
