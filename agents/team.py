"""One problem, one AgentChat conversation: the R1 Solver and the Verifier/Formatter, taking turns.

The Verifier's acceptance is decided by code (the deterministic grader against the official
key), never by a model's say-so. On a correct answer it has the verifier model rewrite the
solution as numbered steps and checks that rewrite (format, and its boxed answer still equals
the key) before it says APPROVED. On a wrong, missing or truncated answer it sends the Solver
feedback without the key, up to `max_rounds` attempts, then says REJECTED.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
from autogen_agentchat.base import Response, TaskResult, TerminationCondition
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.messages import BaseChatMessage, TextMessage, ThoughtEvent
from autogen_core import CancellationToken
from autogen_core.models import SystemMessage, UserMessage
from distill.grading.grader import Verdict
from distill.grading.pool import Grader
from distill.grading.solution_format import check_format
from distill.problems.schema import Problem
from distill.prompts import Template, load_template

from distill.usage import Usage

from .clients import CachedClient
from .conversation import converse
from .records import FormatCheck, Rejection, RejectionKind, RoundVerdict

APPROVED = "APPROVED"
REJECTED = "REJECTED"
TEMPLATE_NAMES = ("solver_system", "solver_user", "verifier_feedback", "formatter_system", "formatter")


@dataclass(frozen=True)
class Templates:
    solver_system: Template
    solver_user: Template
    verifier_feedback: Template
    formatter_system: Template
    formatter: Template

    @classmethod
    def load(cls, prompts_dir: Any = None) -> "Templates":
        return cls(**{n: load_template(n, prompts_dir) for n in TEMPLATE_NAMES})

    def hashes(self) -> dict[str, str]:
        return {n: getattr(self, n).sha256 for n in TEMPLATE_NAMES}


class Solver(AssistantAgent):
    """The Solver: an AssistantAgent whose reply carries its model call's finish_reason in the message's
    metadata, so the Verifier reads it from the conversation, not from the Solver's client."""

    def __init__(self, client: CachedClient, system_message: str | None):
        super().__init__("solver", model_client=client, system_message=system_message)
        self._client = client

    async def on_messages_stream(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken):
        async for item in super().on_messages_stream(messages, cancellation_token):
            last = self._client.last_result
            if isinstance(item, Response) and last is not None:
                item.chat_message.metadata["finish_reason"] = str(last.finish_reason)
            yield item


@dataclass
class VerifierLog:
    verdicts: list[RoundVerdict] = field(default_factory=list)
    checks: list[FormatCheck] = field(default_factory=list)  # formatter calls, checked
    rewrites: list[str] = field(default_factory=list)  # the formatter's text, one per check
    solution: str | None = None
    final_answer: str | None = None
    outcome: str | None = None  # accepted | rejected
    rejection: Rejection | None = None


class VerifierFormatter(BaseChatAgent):
    """Checks the Solver's answer with the grader; formats accepted solutions with the verifier model."""

    def __init__(self, problem: Problem, grader: Grader, formatter_client: CachedClient, templates: Templates, *,
                 max_rounds: int = 3, format_attempts: int = 2):
        super().__init__("verifier", "Checks the Solver's final answer against the official key and formats accepted solutions.")
        self.problem = problem
        self.grader = grader
        self.formatter_client = formatter_client
        self.templates = templates
        self.max_rounds = max_rounds
        self.format_attempts = format_attempts
        self.rounds = 0
        self.log = VerifierLog()

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        self.rounds = 0
        self.log = VerifierLog()

    def _say(self, text: str) -> Response:
        return Response(chat_message=TextMessage(source=self.name, content=text))

    def _feedback_or_reject(self, kind: RejectionKind, reason: str) -> Response:
        if self.rounds >= self.max_rounds:
            self.log.outcome, self.log.rejection = "rejected", Rejection(kind=kind, detail=reason, rounds=self.rounds)
            return self._say(f"{REJECTED}: {self.log.rejection.text()}")
        return self._say(self.templates.verifier_feedback.render(reason=reason))

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        solver_msg = next((m for m in reversed(messages) if m.source == "solver" and isinstance(m, TextMessage)), None)
        if solver_msg is None:
            return self._say(f"{REJECTED}: no message from the solver")
        self.rounds += 1
        if solver_msg.metadata.get("finish_reason") == "length":
            self.log.verdicts.append(RoundVerdict(round=self.rounds, truncated=True))
            return self._feedback_or_reject("truncated", "your response was cut off before a final answer; be more concise")
        verdict = await self.grader.agrade(self.problem.answer, solver_msg.content)
        self.log.verdicts.append(RoundVerdict(round=self.rounds, verdict=verdict))
        if verdict.correct is not True:
            kind: RejectionKind
            if verdict.extracted is None:
                kind, reason = "no_answer", "no final answer in \\boxed{} was found"
            elif verdict.correct is None:
                kind, reason = "unreadable_answer", f"your final answer `{verdict.extracted}` could not be read as a definite value"
            else:
                kind, reason = "wrong_answer", f"your final answer `{verdict.extracted}` is not correct"
            return self._feedback_or_reject(kind, reason)
        return await self._format(solver_msg.content, verdict, cancellation_token)

    async def _format(self, solution: str, verdict: Verdict, cancellation_token: CancellationToken) -> Response:
        feedback = ""
        answer = verdict.extracted or self.problem.answer
        for attempt in range(1, self.format_attempts + 1):
            prompt = self.templates.formatter.render(problem=self.problem.text, solution=solution, answer=answer, feedback=feedback)
            t0 = time.perf_counter()
            result = await self.formatter_client.create(
                [SystemMessage(content=self.templates.formatter_system.render()), UserMessage(content=prompt, source="verifier")],
                cancellation_token=cancellation_token,
            )
            text = result.content if isinstance(result.content, str) else ""
            problem = "truncated" if result.finish_reason == "length" else check_format(text)
            check: Verdict | None = None
            if problem is None:
                check = await self.grader.agrade(self.problem.answer, text)
                if check.correct is not True:
                    problem = f"the rewritten solution's boxed answer `{check.extracted}` no longer equals the key"
            self.log.rewrites.append(text)
            self.log.checks.append(FormatCheck(attempt=attempt, finish_reason=result.finish_reason, cached=bool(result.cached),
                                               usage=Usage.of(result.usage), seconds=round(time.perf_counter() - t0, 3),
                                               problem=problem, verdict=check))
            if problem is None:
                self.log.outcome, self.log.solution, self.log.final_answer = "accepted", text.strip(), answer
                return self._say(f"{APPROVED}\n{text.strip()}")
            feedback = f"\nA previous rewrite was not accepted: {problem}. Fix that.\n"
        self.log.outcome, self.log.rejection = "rejected", Rejection(kind="format_failed", detail=f"formatting failed: {problem}")
        return self._say(f"{REJECTED}: {self.log.rejection.text()}")


@dataclass
class SessionResult:
    task_result: TaskResult
    verifier: VerifierLog
    rounds: int
    seconds: float


def termination(max_rounds: int) -> TerminationCondition:
    """The Verifier's verdict ends the conversation; the message cap is a safety net."""
    return (
        TextMentionTermination(APPROVED, sources=["verifier"])
        | TextMentionTermination(REJECTED, sources=["verifier"])
        | MaxMessageTermination(2 * max_rounds + 2)
    )


async def solve_problem(
    problem: Problem,
    *,
    solver_client: CachedClient,
    formatter_client: CachedClient,
    grader: Grader,
    templates: Templates,
    max_rounds: int = 3,
) -> SessionResult:
    """Run one Solver/Verifier conversation; raises if a model call fails for good."""
    t0 = time.perf_counter()
    system = templates.solver_system.render().strip()
    solver = Solver(solver_client, system or None)
    verifier = VerifierFormatter(problem, grader, formatter_client, templates, max_rounds=max_rounds)
    result = await converse([solver, verifier], templates.solver_user.render(problem=problem.text), termination(max_rounds))
    return SessionResult(result, verifier.log, verifier.rounds, time.perf_counter() - t0)


def thought_of(messages: Sequence[Any], index: int) -> str | None:
    """The ThoughtEvent just before message `index` from the same source, if any."""
    if index > 0 and isinstance(messages[index - 1], ThoughtEvent) and messages[index - 1].source == messages[index].source:
        return messages[index - 1].content
    return None


__all__ = ["APPROVED", "REJECTED", "SessionResult", "Solver", "Templates", "VerifierFormatter", "solve_problem", "termination"]
