"""The evaluation agent: an AutoGen assistant backed by the `judge` role, consulted for the
verdicts the rules could not decide (or, when auditing, for all of them).

Its answer is one line of JSON, `{"verdict": "correct"|"incorrect"|"unsure", "reason": "..."}`,
recorded as a Verdict with method `judge`; the rules' verdict is kept beside it.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import TextMessage
from autogen_core.models import ChatCompletionClient
from distill.prompts import load_template
from pydantic import BaseModel, ConfigDict, Field

from distill.errors import EndpointError
from distill.io import append_jsonl

from .extract import answer_region, extract_answer
from .grader import Verdict

EXCERPT_CHARS = 400  # the judge sees the closing lines the final answer came from, never the whole reply
ADDRESSED = re.compile(r"(?i)\b(?:grader|grading|judge|evaluator|mark (?:this|it|me)|ignore (?:the|all|any|previous)|instructions?|"
                       r"verdict|say (?:it is |that it is )?correct|system prompt)\b")


def fence(text: str) -> str:
    """Text fenced as data with a backtick fence longer than any run of backticks inside it (it cannot close the fence)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    return f"{bar}\n{text}\n{bar}"


def excerpt(response: str, extracted: str | None) -> str:
    """The closing lines of a reply's answer part (after any thinking), at most EXCERPT_CHARS, ending where the
    final answer was written; a line that addresses the grader is replaced by a note (it is no evidence)."""
    region, _ = answer_region(response or "")
    text = region if region is not None else (response or "")
    end = len(text)
    if extracted:
        at = text.rfind(extracted)
        if at >= 0:
            end = min(len(text), at + len(extracted) + 80)
    lines, size = [], 0
    for line in reversed(text[:end].splitlines()):
        if size + len(line) > EXCERPT_CHARS and lines:
            break
        lines.insert(0, "[a line addressed to the grader was removed]" if ADDRESSED.search(line) else line[-EXCERPT_CHARS:])
        size += len(line) + 1
    return "\n".join(lines)


@dataclass(frozen=True)
class JudgeReply:
    correct: bool | None
    reason: str
    raw: str
    readable: bool = True  # False when the reply held no verdict at all (then it counts as unsure)


def parse_reply(text: str) -> JudgeReply:
    """Read the judge's JSON line; anything else is 'unsure' (never a guessed True)."""
    verdict, reason = None, ""
    for m in re.finditer(r"\{[^{}]*\}", text or ""):
        try:
            obj = json.loads(m.group())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "verdict" in obj:
            verdict, reason = str(obj["verdict"]).strip().lower(), str(obj.get("reason", "")).strip()
            break
    readable = True
    if verdict is None:
        m = re.search(r"verdict\W+(correct|incorrect|unsure)", text or "", re.I)
        verdict, readable = (m.group(1).lower(), True) if m else ("unsure", False)
    correct = {"correct": True, "incorrect": False}.get(verdict)
    return JudgeReply(correct, reason.splitlines()[0][:300] if reason else verdict, text or "", readable)


class Disagreement(BaseModel):
    """One line of logs/judge_disagreements.jsonl: an audited record where the judge and the rules differ
    (the rules' verdict is the one kept)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    id: Any = Field(None, description="the record's id in its evaluation (problem id, run)")
    key: str
    extracted: str | None
    rule: bool
    rule_method: str
    judge: bool
    judge_reason: str


class Judge:
    def __init__(self, client: ChatCompletionClient, *, prompts_dir: Path | None = None, concurrency: int = 8, log_path: Path | None = None,
                 role: dict[str, Any] | None = None):
        self.client = client
        self.role = role or {}  # the judge role's model, endpoint and sampling: part of what decides its verdicts
        self.failure: EndpointError | None = None  # the first failure of the judge's endpoint, if any
        self.system = load_template("judge_system", prompts_dir)
        self.user = load_template("judge", prompts_dir)
        self.semaphore = asyncio.Semaphore(concurrency)
        self.log_path = log_path

    @property
    def template_hashes(self) -> dict[str, str]:
        return {"judge_system": self.system.sha256, "judge": self.user.sha256}

    async def ask(self, problem: str, key: str, response: str, extracted: str | None = None) -> JudgeReply:
        """The judge's verdict on a reply's final answer. It is shown the problem, the key, the extracted answer and
        the closing lines it came from, each fenced as data: an instruction written into the reply's body never reaches it."""
        extracted = extracted if extracted is not None else extract_answer(response).text
        task = self.user.render(problem=fence(problem or "(not given)"), key=fence(key), answer=fence(extracted or "(none found)"),
                                excerpt=fence(excerpt(response, extracted)))
        async with self.semaphore:
            # A fresh agent per question: no question sees another's conversation.
            agent = AssistantAgent("judge", model_client=self.client, system_message=self.system.render())
            result = await agent.run(task=task)
        last = next((m for m in reversed(result.messages) if isinstance(m, TextMessage) and m.source == "judge"), None)
        return parse_reply(last.content if last else "")

    async def review(self, rule: Verdict, *, problem: str, key: str, response: str, record_id: Any = None) -> Verdict:
        """The judge's verdict for an undecided rule verdict; in audit, log disagreements and keep the rule's."""
        reply = await self.ask(problem, key, response, rule.extracted)
        if not reply.readable:
            if self.failure is None:
                self.failure = EndpointError("bad_reply", "judge role", f"a reply held no verdict ({reply.raw[:80]!r})", fatal=False)
            return rule.model_copy(update={"reason": f"{rule.reason}; judge reply held no verdict"})
        if rule.correct is not None:
            if reply.correct is not None and reply.correct != rule.correct and self.log_path:
                append_jsonl(self.log_path, Disagreement(id=record_id, key=key, extracted=rule.extracted, rule=rule.correct,
                                                         rule_method=rule.method, judge=reply.correct, judge_reason=reply.reason).model_dump(mode="json"))
            return rule
        return rule.model_copy(
            update={"correct": reply.correct, "method": "judge", "reason": reply.reason, "rule_correct": rule.correct, "rule_method": rule.method}
        )
