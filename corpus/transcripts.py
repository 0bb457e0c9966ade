"""Transcript records and their store (diskcache in the workspace; one atomic write per problem)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from distill.agents.records import FormatCheck, Rejection, RoundVerdict
from distill.grading.grader import Verdict
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distill.errors import DistillError, validation_message
from distill.io import open_disk_store, store_get_many, store_keys
from distill.usage import Usage

TRANSCRIPT_SCHEMA_VERSION = 2
Status = Literal["accepted", "rejected", "failed"]


class TranscriptMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="user (the task), solver, verifier, or formatter")
    type: str = Field(description="AgentChat message type, or `format` for a formatter call")
    content: str
    thought: str | None = Field(None, description="the Solver's reasoning_content, when the model returns one")
    usage: Usage = Field(default_factory=Usage)
    cached: bool | None = None
    finish_reason: str | None = None


class Transcript(BaseModel):
    """Everything about one problem attempt: what was said, what was decided, what it cost."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = TRANSCRIPT_SCHEMA_VERSION
    problem_id: str
    sample: int = Field(0, ge=0, description="which independent Solver sample of the problem (0 = the first)")
    source: str
    year: int | None = None
    section: str | None = None
    status: Status
    rejection: Rejection | None = Field(None, description="why a rejected problem was rejected")
    error: str | None = Field(None, description="why a failed problem failed: exception type and message")
    stop_reason: str | None = None
    rounds: int = 0
    messages: list[TranscriptMessage] = Field(default_factory=list)
    verdicts: list[RoundVerdict] = Field(default_factory=list, description="per round: the grader's verdict with its method")
    format_checks: list[FormatCheck] = Field(default_factory=list)
    solution: str | None = Field(None, description="the accepted stepwise chain of thought (level R1)")
    final_answer: str | None = None
    key: str = Field(description="the official key the answer was checked against")
    templates: dict[str, str] = Field(default_factory=dict, description="template name -> sha256 of its file")
    models: dict[str, dict[str, Any]] = Field(default_factory=dict, description="role -> model, endpoint, sampling")
    max_rounds: int = 3
    fingerprint: str = Field(description="hash of everything that decides this transcript; a change reruns it")
    grader_version: str | None = Field(None, description="the grader version whose verdicts decided it (None: recorded before versions "
                                                         "were kept); an accepted transcript is re-checked when the grader changes")
    started_at: str
    seconds: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = Field(0.0, description="what this transcript's network calls cost at the roles' prices (cached calls: nothing)")
    calls: dict[str, int] = Field(default_factory=dict, description="network and cached model calls, and prompt tokens the provider served from its cache")

    @property
    def thought(self) -> str | None:
        """The Solver's reasoning behind its last (for an accepted transcript: the verified) answer."""
        return next((m.thought for m in reversed(self.messages) if m.source == "solver" and m.thought), None)

    @property
    def reason(self) -> str:
        """One line for people: why it was rejected or failed, or that it was accepted."""
        if self.status == "accepted":
            return "answer equals the key; formatted solution checked"
        if self.status == "failed":
            return f"a model call failed: {self.error}" if self.error else "a model call failed"
        return self.rejection.text() if self.rejection else f"conversation ended: {self.stop_reason}"


class LevelText(BaseModel):
    """A restatement of an accepted solution at one length level."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = 2
    problem_id: str
    level: str
    sample: int = Field(0, description="the Solver sample whose accepted solution was restated")
    text: str | None
    words: int = 0
    ok: bool
    off_target: bool = Field(False, description="outside the level's word band even after one retry: left out of exports")
    target_words: int | None = Field(None, description="the word target the level template states")
    problem: str | None = None
    verdict: Verdict | None = None
    template_sha256: str | None = None
    fingerprint: str
    usage: Usage = Field(default_factory=Usage)


class WrongRewrite(BaseModel):
    """A wrong Solver reply rewritten by the Formatter in the accepted solutions' stepwise form, keeping its
    own (wrong) answer: the rejected side of a `--pair-form formatted` preference pair."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    problem_id: str
    sample: int = 0
    round: int = Field(description="which Solver reply of the transcript (0 = the first) was rewritten")
    answer: str = Field(description="the reply's own final answer, which the rewrite must keep")
    transcript_fingerprint: str = Field("", description="the transcript rewritten from: a rerun transcript's old rewrites are not used")
    text: str | None
    ok: bool
    problem: str | None = Field(None, description="why the rewrite is not used: truncated, format, corrected the answer, ...")
    verdict: Verdict | None = Field(None, description="the rewrite graded against the official key (must be wrong)")
    template_sha256: str | None = None
    fingerprint: str
    usage: Usage = Field(default_factory=Usage)


def solver_rounds(t: Transcript) -> list[tuple[int, TranscriptMessage, bool | None]]:
    """The Solver's replies in order: (round, reply, the grader's verdict on it; None when cut off or never graded)."""
    replies = [m for m in t.messages if m.source == "solver" and m.content.strip()]
    verdicts = [rv.verdict.correct if rv.verdict else None for rv in t.verdicts]
    return [(i, m, verdicts[i] if i < len(verdicts) else None) for i, m in enumerate(replies)]


def wrong_rounds(t: Transcript) -> list[int]:
    """The rounds a preference pair may reject: a rejected sample's last reply, an accepted transcript's
    earlier replies, each only when the grader found it wrong (a cut-off or badly formatted reply is not)."""
    rounds = solver_rounds(t)
    if t.status == "rejected":
        return [rounds[-1][0]] if rounds and rounds[-1][2] is False else []
    if t.status == "accepted":
        return [i for i, _, ok in rounds[:-1] if ok is False]
    return []


class TranscriptStore:
    """Transcripts by (problem id, sample), levels by (problem id, level). Each put is one SQLite transaction."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.cache = open_disk_store(root)

    @staticmethod
    def _key(problem_id: str, sample: int) -> tuple:
        return ("transcript", problem_id) if sample == 0 else ("transcript", problem_id, sample)

    def get(self, problem_id: str, sample: int = 0) -> Transcript | None:
        return _read(Transcript, self.cache.get(self._key(problem_id, sample)), self.root, f"the transcript of {problem_id} (sample {sample})")

    def has(self, problem_id: str) -> bool:
        """Whether the problem has a transcript (a key lookup: nothing read)."""
        return self._key(problem_id, 0) in self.cache

    def put(self, t: Transcript) -> None:
        with self.cache.transact():  # the transcript, the index of samples and the revision change together
            self.cache.set(self._key(t.problem_id, t.sample), t.model_dump(mode="json"))
            if t.sample:  # every index already holds sample 0 (see `samples`)
                index = set(self.cache.get(("samples", t.problem_id), [0]))
                if t.sample not in index:
                    self.cache.set(("samples", t.problem_id), sorted(index | {t.sample}))
            self._touch(t.problem_id)

    def _touch(self, problem_id: str) -> None:
        """A new revision token for the problem: whatever was built from its records (a site page) is stale."""
        self.cache.set(("revision", problem_id), uuid.uuid4().hex)

    def samples(self, problem_id: str) -> list[Transcript]:
        """Every stored sample of a problem, by sample index."""
        out = []
        for k in self.cache.get(("samples", problem_id), [0]):
            t = self.get(problem_id, k)
            if t is not None:
                out.append(t)
        return out

    def ids(self) -> list[tuple[str, int]]:
        """(problem id, sample) of every stored transcript, sorted: keys only, a few bytes each."""
        return sorted((k[1], k[2] if len(k) > 2 else 0) for k in store_keys(self.cache) if isinstance(k, tuple) and k[0] == "transcript")

    def all(self) -> Iterator[Transcript]:
        """Every transcript, by problem id and sample, read one at a time (memory stays flat)."""
        for pid, sample in self.ids():
            t = self.get(pid, sample)
            if t is not None:
                yield t

    def revision(self, problem_id: str, levels: Sequence[str]) -> Any:
        """What changes whenever a problem's records change: its revision token (one read), or, in a store
        written before tokens, the records themselves as they are on disk (samples, then the given levels).
        None when the problem has no transcript."""
        token = self.cache.get(("revision", problem_id))
        if token is not None:
            return token  # set with every transcript and level text, so the transcript exists
        if self.cache.get(self._key(problem_id, 0)) is None:
            return None
        keys = [self._key(problem_id, k) for k in self.cache.get(("samples", problem_id), [0])]
        return [self.cache.get(k) for k in keys] + [self.cache.get(("level", problem_id, lv)) for lv in levels]

    def revisions(self, problem_ids: Sequence[str], levels: Sequence[str]) -> list[Any]:
        """`revision` of each problem, the tokens read in one query."""
        tokens = store_get_many(self.cache, [("revision", pid) for pid in problem_ids])
        return [token if token is not None else self.revision(pid, levels) for pid, token in zip(problem_ids, tokens)]

    def get_level(self, problem_id: str, level: str) -> LevelText | None:
        return _read(LevelText, self.cache.get(("level", problem_id, level)), self.root, f"the {level} text of {problem_id}")

    def put_level(self, lt: LevelText) -> None:
        with self.cache.transact():
            self.cache.set(("level", lt.problem_id, lt.level), lt.model_dump(mode="json"))
            self._touch(lt.problem_id)

    def get_wrong(self, problem_id: str, sample: int, round: int) -> WrongRewrite | None:
        return _read(WrongRewrite, self.cache.get(("wrong", problem_id, sample, round)), self.root,
                     f"the rewrite of {problem_id}'s wrong reply (sample {sample}, round {round})")

    def put_wrong(self, w: WrongRewrite) -> None:
        with self.cache.transact():
            self.cache.set(("wrong", w.problem_id, w.sample, w.round), w.model_dump(mode="json"))
            self._touch(w.problem_id)


def _read(model: type[Transcript] | type[LevelText] | type[WrongRewrite], raw: Any, root: Path, what: str) -> Any:
    """A stored record; None when absent or written by an older schema (the runner then redoes it, at
    no cost, from the model-call cache). A record of this schema that does not validate (hand-edited,
    torn) is a one-line error naming it, never read as absent."""
    current = model.model_fields["schema_version"].default
    if raw is None:
        return None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version < current:
        return None
    if not isinstance(raw, dict) or version != current:
        raise DistillError(f"{what} is not a distill record of schema {current} (found {type(raw).__name__}"
                           f"{f', schema {version}' if version is not None else ''}); restore it or delete the store to redo it", path=root)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise DistillError(f"{what} is not valid ({validation_message(exc)}); restore it or delete the store to redo it", path=root) from None
