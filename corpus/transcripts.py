"""Transcript records and their store (diskcache in the workspace; one atomic write per problem)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import diskcache
from pydantic import BaseModel, ConfigDict, Field

TRANSCRIPT_SCHEMA_VERSION = 1
Status = Literal["accepted", "rejected", "failed"]


class TranscriptMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="user (the task), solver, verifier, or formatter")
    type: str = Field(description="AgentChat message type, or `format` for a formatter call")
    content: str
    thought: str | None = Field(None, description="the Solver's reasoning_content, when the model returns one")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool | None = None
    finish_reason: str | None = None


class Transcript(BaseModel):
    """Everything about one problem attempt: what was said, what was decided, what it cost."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = TRANSCRIPT_SCHEMA_VERSION
    problem_id: str
    source: str
    year: int | None = None
    section: str | None = None
    status: Status
    reason: str = ""
    error: str | None = None
    stop_reason: str | None = None
    rounds: int = 0
    messages: list[TranscriptMessage] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list, description="per round: the grader's verdict with its method")
    format_checks: list[dict[str, Any]] = Field(default_factory=list)
    solution: str | None = Field(None, description="the accepted stepwise chain of thought (level R1)")
    final_answer: str | None = None
    key: str = Field(description="the official key the answer was checked against")
    templates: dict[str, str] = Field(default_factory=dict, description="template name -> sha256 of its file")
    models: dict[str, dict[str, Any]] = Field(default_factory=dict, description="role -> model, endpoint, sampling")
    max_rounds: int = 3
    fingerprint: str = Field(description="hash of everything that decides this transcript; a change reruns it")
    started_at: str
    seconds: float = 0.0
    tokens: dict[str, int] = Field(default_factory=dict)
    calls: dict[str, int] = Field(default_factory=dict, description="network and cached model calls")

    @property
    def tokens_total(self) -> int:
        return sum(self.tokens.values())


class LevelText(BaseModel):
    """A restatement of an accepted solution at one length level."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    problem_id: str
    level: str
    text: str | None
    words: int = 0
    ok: bool
    problem: str | None = None
    verdict: dict[str, Any] | None = None
    template_sha256: str | None = None
    fingerprint: str
    tokens: dict[str, int] = Field(default_factory=dict)


class TranscriptStore:
    """Transcripts by problem id, levels by (problem id, level). Each put is one SQLite transaction."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(root))

    def get(self, problem_id: str) -> Transcript | None:
        raw = self.cache.get(("transcript", problem_id))
        return Transcript.model_validate(raw) if raw is not None else None

    def put(self, t: Transcript) -> None:
        self.cache.set(("transcript", t.problem_id), t.model_dump(mode="json"))

    def all(self) -> Iterator[Transcript]:
        for key in list(self.cache.iterkeys()):
            if isinstance(key, tuple) and key[0] == "transcript":
                raw = self.cache.get(key)
                if raw is not None:
                    yield Transcript.model_validate(raw)

    def get_level(self, problem_id: str, level: str) -> LevelText | None:
        raw = self.cache.get(("level", problem_id, level))
        return LevelText.model_validate(raw) if raw is not None else None

    def put_level(self, lt: LevelText) -> None:
        self.cache.set(("level", lt.problem_id, lt.level), lt.model_dump(mode="json"))

    def close(self) -> None:
        self.cache.close()
