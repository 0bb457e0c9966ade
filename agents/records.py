"""What the Verifier/Formatter decides, as typed records stored verbatim in transcripts."""

from __future__ import annotations

from typing import Literal

from distill.grading.grader import Verdict
from pydantic import BaseModel, ConfigDict, Field

from distill.usage import Usage

RejectionKind = Literal["wrong_answer", "no_answer", "unreadable_answer", "truncated", "format_failed", "conversation_ended"]


class RoundVerdict(BaseModel):
    """The Verifier's check of one Solver answer."""

    model_config = ConfigDict(extra="forbid")

    round: int
    truncated: bool = False
    verdict: Verdict | None = Field(None, description="the grader's verdict; None when the answer was cut off")


class FormatCheck(BaseModel):
    """One formatter call and the check of its rewrite (the rewrite itself is a transcript message)."""

    model_config = ConfigDict(extra="forbid")

    attempt: int
    finish_reason: str | None = None
    cached: bool = False
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    problem: str | None = Field(None, description="what was wrong with the rewrite; None when it passed")
    verdict: Verdict | None = None


class Rejection(BaseModel):
    """Why a problem was rejected: a kind to count by, and the detail to read."""

    model_config = ConfigDict(extra="forbid")

    kind: RejectionKind
    detail: str = ""
    rounds: int = 0

    def text(self) -> str:
        return f"{self.detail} (after {self.rounds} rounds)" if self.rounds else self.detail
