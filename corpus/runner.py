"""Run Solver/Verifier sessions for many problems concurrently, storing one transcript each."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from autogen_agentchat.messages import TextMessage
from distill.agents.clients import CachedClient, CallStats, OverBudget, describe_role
from distill.agents.records import Rejection
from distill.agents.team import SessionResult, Templates, solve_problem, thought_of
from distill.grading.pool import Grader
from distill.grading.version import grader_version

from .recheck import is_stale, recheck
from distill.problems.schema import Problem

from distill.config import ModelRole
from distill.errors import EndpointError
from distill.io import content_hash
from distill.usage import Usage

from .transcripts import Transcript, TranscriptMessage, TranscriptStore


def prompt_tokens_bound(messages: Sequence[Any]) -> int:
    """An upper estimate of a request's prompt tokens: a token is at least ~3 characters of text."""
    return sum(len(str(getattr(m, "content", ""))) // 3 + 8 for m in messages)


@dataclass
class Budget:
    """A hard spending cap: every network call reserves its worst case (its prompt, and max_tokens of
    output, at the role's prices) before it is made, and is not made when spent + reserved would pass
    the cap; a finished call replaces its reservation by what it cost."""

    cap_usd: float
    spent_usd: float = 0.0
    reserved_usd: float = 0.0

    def gate(self, role: ModelRole) -> "BudgetGate":
        return BudgetGate(self, role)

    def exhausted(self, role: ModelRole) -> bool:
        return self.spent_usd + self.reserved_usd + role.cost(0, role.max_tokens) > self.cap_usd


@dataclass
class BudgetGate:
    budget: Budget
    role: ModelRole

    def reserve(self, messages: Sequence[Any]) -> float | None:
        worst = self.role.cost(prompt_tokens_bound(messages), self.role.max_tokens)
        b = self.budget
        if b.spent_usd + b.reserved_usd + worst > b.cap_usd:
            return None
        b.reserved_usd += worst
        return worst

    def settle(self, ticket: float | None, result: Any) -> None:
        b = self.budget
        b.reserved_usd -= ticket or 0.0
        usage = getattr(result, "usage", None)
        if usage is not None:
            b.spent_usd += self.role.cost(usage.prompt_tokens, usage.completion_tokens)


def worst_sample_cost(solver: ModelRole, verifier: ModelRole, max_rounds: int, format_attempts: int = 2) -> float:
    """What one sample may cost at most on output alone: every Solver round and format attempt at max_tokens."""
    return max_rounds * solver.cost(0, solver.max_tokens) + format_attempts * verifier.cost(0, verifier.max_tokens)


@dataclass
class RunSummary:
    problems: int = 0
    samples: int = 0  # transcripts asked for: problems x samples per problem
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0  # already done with the same fingerprint: no calls at all
    model_calls: int = 0  # calls that reached the network in this run
    cached: int = 0  # calls answered from the disk cache
    retries: int = 0
    tokens: int = 0
    seconds: float = 0.0
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    failed_reasons: dict[str, int] = field(default_factory=dict)  # one line per cause, not per problem
    not_started: int = 0  # left alone after a failure that stops the run
    over_budget: int = 0  # left alone because --max-cost would have been passed
    cost_usd: float = 0.0  # spent in this run, at the roles' prices
    reopened: int = 0  # accepted by another grader version and rejected by the current one: run again
    endpoints: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # role -> URL -> served, failures, open_s (several URLs)
    stopped_by: EndpointError | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stopped_by"] = self.stopped_by.line() if self.stopped_by else None
        return d


def run_identity(templates: Templates, solver: ModelRole, verifier: ModelRole, max_rounds: int) -> dict[str, Any]:
    """What every transcript of a run shares in its fingerprint: computed once per run, not per sample."""
    return {"templates": templates.hashes(), "solver": describe_role(solver), "verifier": describe_role(verifier), "max_rounds": max_rounds}


def fingerprint(problem: Problem, identity: dict[str, Any], sample: int = 0) -> str:
    """Hash of everything that decides a transcript: the problem and its key, the run's identity, the sample."""
    return content_hash({"problem": [problem.text, problem.answer], **identity, **({"sample": sample} if sample else {})}, 32)


def build_transcript(problem: Problem, res: SessionResult | None, *, error: str | None, base: dict[str, Any]) -> Transcript:
    if res is None:
        return Transcript(problem_id=problem.id, source=problem.source, year=problem.year, section=problem.section,
                          status="failed", error=error or "unknown error", key=problem.answer, **base)
    msgs = list(res.task_result.messages)
    out: list[TranscriptMessage] = []
    for i, m in enumerate(msgs):
        if not isinstance(m, TextMessage):
            continue
        if m.source == "verifier" and i == len(msgs) - 1:
            for check, text in zip(res.verifier.checks, res.verifier.rewrites):  # the formatter ran during this last turn
                out.append(TranscriptMessage(source="formatter", type="format", content=text, cached=check.cached,
                                             finish_reason=check.finish_reason, usage=check.usage))
        out.append(TranscriptMessage(source=m.source, type=m.type, content=m.content, thought=thought_of(msgs, i), usage=Usage.of(m.models_usage)))
    status = "accepted" if res.verifier.outcome == "accepted" else "rejected"
    rejection = None
    if status == "rejected":
        rejection = res.verifier.rejection or Rejection(kind="conversation_ended", detail=f"conversation ended: {res.task_result.stop_reason}")
    return Transcript(
        problem_id=problem.id, source=problem.source, year=problem.year, section=problem.section,
        status=status, rejection=rejection, stop_reason=res.task_result.stop_reason, rounds=res.rounds, messages=out,
        verdicts=res.verifier.verdicts, format_checks=res.verifier.checks, usage=Usage.sum([m.usage for m in out]),
        solution=res.verifier.solution if status == "accepted" else None,
        final_answer=res.verifier.final_answer if status == "accepted" else None, key=problem.answer, **base,
    )


@dataclass
class _Run:
    """One corpus run's shared state: what every sample's conversation needs, and the running summary."""

    store: TranscriptStore
    grader: Grader
    solver_client: CachedClient
    formatter_client: CachedClient
    solver_role: ModelRole
    verifier_role: ModelRole
    templates: Templates
    max_rounds: int
    retry_rejected: bool
    budget: Budget | None
    on_done: Callable[[Transcript, bool, RunSummary], None] | None
    summary: RunSummary
    identity: dict[str, Any]

    def count(self, t: Transcript, skipped: bool) -> None:
        s = self.summary
        if skipped:
            s.skipped += 1
        setattr(s, t.status, getattr(s, t.status) + 1)
        if t.status == "rejected" and t.rejection is not None:
            s.rejected_reasons[t.rejection.kind] = s.rejected_reasons.get(t.rejection.kind, 0) + 1
        if t.status == "failed" and not skipped:
            s.failed_reasons[t.error or "?"] = s.failed_reasons.get(t.error or "?", 0) + 1
        if self.on_done:
            self.on_done(t, skipped, s)

    def done_already(self, problem: Problem, k: int, fp: str) -> Transcript | None:
        existing = self.store.get(problem.id, k)
        if existing and existing.fingerprint == fp and (existing.status == "accepted" or (existing.status == "rejected" and not self.retry_rejected)):
            return existing
        return None

    async def one(self, problem: Problem, k: int) -> None:
        fp = fingerprint(problem, self.identity, k)
        if (existing := self.done_already(problem, k, fp)) is not None:
            if is_stale(existing):  # accepted by another grader version: re-checked, no model call
                if (why := await recheck(existing, self.grader)) is None:
                    self.store.put(existing.model_copy(update={"grader_version": grader_version()}))
                else:
                    self.summary.reopened += 1
                    existing = None
            if existing is not None:
                self.count(existing, True)
                return
        if self.summary.stopped_by is not None:  # a refused key or a dead endpoint: every call would fail alike
            self.summary.not_started += 1
            return
        if self.budget is not None and self.budget.exhausted(self.solver_role):
            self.summary.over_budget += 1
            return
        gates = (self.budget.gate(self.solver_role), self.budget.gate(self.verifier_role)) if self.budget is not None else (None, None)
        solver = self.solver_client.fork("solver", sample=k, gate=gates[0])
        fmt = self.formatter_client.fork("verifier", gate=gates[1])
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        res, error = None, None
        try:
            res = await solve_problem(problem, solver_client=solver, formatter_client=fmt, grader=self.grader,
                                      templates=self.templates, max_rounds=self.max_rounds)
        except OverBudget:  # stopped at the cap partway: its finished calls stay cached; nothing is stored
            self.summary.over_budget += 1
            self.summary.cost_usd = round(self.summary.cost_usd + self.cost_of(solver, fmt), 6)
            return
        except Exception as exc:  # one problem's failure must not stop the year
            endpoint = exc if isinstance(exc, EndpointError) else solver.last_error or fmt.last_error
            error = endpoint.line() if endpoint else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
            if endpoint is not None and endpoint.fatal and self.summary.stopped_by is None:
                self.summary.stopped_by = endpoint
        self.finish(problem, k, fp, res, error, solver, fmt, started, time.perf_counter() - t0)

    def cost_of(self, solver: CachedClient, fmt: CachedClient) -> float:
        return self.solver_role.cost(solver.stats.prompt_tokens, solver.stats.completion_tokens, solver.stats.prompt_cache_hit_tokens) \
            + self.verifier_role.cost(fmt.stats.prompt_tokens, fmt.stats.completion_tokens, fmt.stats.prompt_cache_hit_tokens)

    def finish(self, problem: Problem, k: int, fp: str, res: SessionResult | None, error: str | None, solver: CachedClient,
               fmt: CachedClient, started: str, seconds: float) -> None:
        calls = CallStats()
        calls.add(solver.stats)
        calls.add(fmt.stats)
        cost = self.cost_of(solver, fmt)
        base = {
            "sample": k, "cost_usd": round(cost, 6), "templates": self.identity["templates"], "fingerprint": fp,
            "models": {"solver": self.identity["solver"], "verifier": self.identity["verifier"]}, "max_rounds": self.max_rounds,
            "started_at": started, "seconds": round(seconds, 3), "grader_version": grader_version(),
            "calls": {"network": calls.network, "cached": calls.cached, "failed": calls.failed, "retries": calls.retries,
                      "prompt_cache_hit_tokens": calls.prompt_cache_hit_tokens},
        }
        transcript = build_transcript(problem, res, error=error, base=base)
        self.store.put(transcript)  # one transaction: the problem is done, or it was never started
        s = self.summary
        s.model_calls += calls.network
        s.cached += calls.cached
        s.retries += calls.retries
        s.tokens += calls.prompt_tokens + calls.completion_tokens
        s.cost_usd = round(s.cost_usd + cost, 6)
        self.count(transcript, False)


async def run_corpus(
    problems: Sequence[Problem],
    *,
    store: TranscriptStore,
    grader: Grader,
    solver_client: CachedClient,
    formatter_client: CachedClient,
    solver_role: ModelRole,
    verifier_role: ModelRole,
    templates: Templates,
    max_rounds: int = 3,
    concurrency: int = 8,
    retry_rejected: bool = False,
    samples: int = 1,
    budget: Budget | None = None,
    on_done: Callable[[Transcript, bool, RunSummary], None] | None = None,
) -> RunSummary:
    """Ask the Solver `samples` independent times per problem, each sample with its own Verifier/Formatter
    conversation and transcript. Skip samples already done with the same fingerprint; store each once."""
    t_start = time.perf_counter()
    run = _Run(store, grader, solver_client, formatter_client, solver_role, verifier_role, templates, max_rounds, retry_rejected, budget,
               on_done, RunSummary(problems=len(problems), samples=len(problems) * samples),
               run_identity(templates, solver_role, verifier_role, max_rounds))
    # `concurrency` workers share one queue: the first request goes out after one skip check, not
    # after a task per sample has been created and checked
    queue = ((p, k) for p in problems for k in range(samples))  # read as the workers take them: flat memory

    async def worker(n: int) -> None:
        # worker n starts n event-loop turns late: the first requests leave while later workers still
        # prepare theirs, and replies come back spread out rather than all at once (the loop is one thread)
        for _ in range(n):
            await asyncio.sleep(0)
        for problem, k in queue:
            await run.one(problem, k)

    await asyncio.gather(*(worker(n) for n in range(max(1, min(concurrency, run.summary.samples)))))
    run.summary.seconds = round(time.perf_counter() - t_start, 3)
    for role, client in (("solver", solver_client), ("verifier", formatter_client)):
        if len(client.policy.pool.urls) > 1:
            run.summary.endpoints[role] = client.policy.pool.report()
    return run.summary
