"""One problem, one AgentChat team: the R1 Solver and the Verifier/Formatter, taking turns.

The Verifier's acceptance is decided by code (the deterministic grader against the official
key), never by a model's say-so. On a correct answer it has the verifier model rewrite the
solution as numbered steps and checks that rewrite (format, and its boxed answer still equals
the key) before it says APPROVED. On a wrong, missing or truncated answer it sends the Solver
feedback without the key, up to `max_rounds` attempts, then says REJECTED.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
from autogen_agentchat.base import Response, TaskResult
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.messages import BaseChatMessage, TextMessage, ThoughtEvent
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken
from autogen_core.models import SystemMessage, UserMessage

from distill.corpus.problems import Problem
from distill.evaluation.grader import Verdict
from distill.evaluation.pool import Grader
from distill.prompts import Template, load_template

from .clients import CachedClient

APPROVED = "APPROVED"
REJECTED = "REJECTED"
STEP_LINE = re.compile(r"^\s*(?:\*\*)?Step\s+(\d+)\s*[:.)](?:\*\*)?\s*\S")
FINAL_LINE = re.compile(r"^\s*Final answer:\s*\\boxed\{.*\}\s*\.?\s*$")
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


def check_format(text: str) -> str | None:
    """None if `text` is numbered one-line steps ending in `Final answer: \\boxed{..}`, else what is wrong."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) < 2:
        return "needs at least one step and a final answer line"
    if not FINAL_LINE.match(lines[-1]):
        return "last line must be `Final answer: \\boxed{...}`"
    numbers = []
    for ln in lines[:-1]:
        m = STEP_LINE.match(ln)
        if not m:
            return f"every line before the final answer must be a numbered step (`Step k: ...`); found {ln[:60]!r}"
        numbers.append(int(m.group(1)))
    if numbers != list(range(1, len(numbers) + 1)):
        return f"steps must be numbered 1..{len(numbers)} in order"
    return None


@dataclass
class VerifierLog:
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # formatter calls, checks
    solution: str | None = None
    final_answer: str | None = None
    outcome: str | None = None  # accepted | rejected
    reason: str = ""


class VerifierFormatter(BaseChatAgent):
    """Checks the Solver's answer with the grader; formats accepted solutions with the verifier model."""

    def __init__(
        self,
        problem: Problem,
        grader: Grader,
        formatter_client: CachedClient,
        solver_client: CachedClient,
        templates: Templates,
        *,
        max_rounds: int = 3,
        format_attempts: int = 2,
    ):
        super().__init__("verifier", "Checks the Solver's final answer against the official key and formats accepted solutions.")
        self.problem = problem
        self.grader = grader
        self.formatter_client = formatter_client
        self.solver_client = solver_client
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

    def _feedback_or_reject(self, reason: str) -> Response:
        if self.rounds >= self.max_rounds:
            self.log.outcome, self.log.reason = "rejected", f"{reason} (after {self.rounds} rounds)"
            return self._say(f"{REJECTED}: {self.log.reason}")
        return self._say(self.templates.verifier_feedback.render(reason=reason))

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        solver_msg = next((m for m in reversed(messages) if m.source == "solver" and isinstance(m, TextMessage)), None)
        if solver_msg is None:
            return self._say(f"{REJECTED}: no message from the solver")
        self.rounds += 1
        last = self.solver_client.last_result
        if last is not None and last.finish_reason == "length":
            self.log.verdicts.append({"round": self.rounds, "truncated": True, "verdict": None})
            return self._feedback_or_reject("your response was cut off before a final answer; be more concise")
        verdict = await self.grader.agrade(self.problem.answer, solver_msg.content)
        self.log.verdicts.append({"round": self.rounds, "truncated": False, "verdict": verdict.model_dump(mode="json")})
        if verdict.correct is not True:
            if verdict.extracted is None:
                reason = "no final answer in \\boxed{} was found"
            elif verdict.correct is None:
                reason = f"your final answer `{verdict.extracted}` could not be read as a definite value"
            else:
                reason = f"your final answer `{verdict.extracted}` is not correct"
            return self._feedback_or_reject(reason)
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
            self.log.events.append(
                {
                    "kind": "format",
                    "attempt": attempt,
                    "content": text,
                    "finish_reason": result.finish_reason,
                    "cached": bool(result.cached),
                    "prompt_tokens": result.usage.prompt_tokens if result.usage else 0,
                    "completion_tokens": result.usage.completion_tokens if result.usage else 0,
                    "seconds": round(time.perf_counter() - t0, 3),
                    "problem": problem,
                    "verdict": check.model_dump(mode="json") if check else None,
                }
            )
            if problem is None:
                self.log.outcome, self.log.solution, self.log.final_answer = "accepted", text.strip(), answer
                self.log.reason = "answer equals the key; formatted solution checked"
                return self._say(f"{APPROVED}\n{text.strip()}")
            feedback = f"\nA previous rewrite was not accepted: {problem}. Fix that.\n"
        self.log.outcome, self.log.reason = "rejected", f"formatting failed: {problem}"
        return self._say(f"{REJECTED}: {self.log.reason}")


@dataclass
class SessionResult:
    task_result: TaskResult
    verifier: VerifierLog
    rounds: int
    seconds: float


def build_team(solver: AssistantAgent, verifier: VerifierFormatter, max_rounds: int) -> RoundRobinGroupChat:
    stop = (
        TextMentionTermination(APPROVED, sources=["verifier"])
        | TextMentionTermination(REJECTED, sources=["verifier"])
        | MaxMessageTermination(2 * max_rounds + 2)
    )
    return RoundRobinGroupChat([solver, verifier], termination_condition=stop)


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
    solver = AssistantAgent("solver", model_client=solver_client, system_message=system or None)
    verifier = VerifierFormatter(problem, grader, formatter_client, solver_client, templates, max_rounds=max_rounds)
    team = build_team(solver, verifier, max_rounds)
    result = await team.run(task=templates.solver_user.render(problem=problem.text))
    return SessionResult(result, verifier.log, verifier.rounds, time.perf_counter() - t0)


def thought_of(messages: Sequence[Any], index: int) -> str | None:
    """The ThoughtEvent just before message `index` from the same source, if any."""
    if index > 0 and isinstance(messages[index - 1], ThoughtEvent) and messages[index - 1].source == messages[index].source:
        return messages[index - 1].content
    return None


__all__ = ["APPROVED", "REJECTED", "SessionResult", "Templates", "VerifierFormatter", "check_format", "solve_problem"]
