"""The evaluation's on-disk records: eval_config.json (what decides the numbers, checked on resume)
and summary.json (every number, recomputed from responses.jsonl). Both are written from these models
and read back through them, so a stale or hand-edited file is a clear error, not a KeyError."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from distill.grading.grader import Verdict
from distill.io import read_jsonl_records, read_record
from distill.usage import Usage

RESUME_KEYS = ("problems", "backend", "sampling", "samples", "seed", "level", "prompt_levels", "templates", "grader", "judge")
REGRADE_KEYS = ("grader", "judge")  # a change of these alone regrades the stored responses: nothing is generated again


class ResponseRecord(BaseModel):
    """One line of responses.jsonl: one generated answer, where it came from, and its verdict."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[2] = 2
    problem_id: str
    run: int
    seed: int
    sample: int = Field(0, description="which of the run's samples of this problem")
    level: str
    source: str
    year: int | None = None
    section: str | None = None
    subject: str | None = None
    difficulty: int | None = None
    key: str
    response: str
    words: int
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str
    forced: bool = Field(False, description="the thinking budget ran out and the answer was asked for")
    thinking_words: int = 0
    answer_words: int = 0
    endpoint: str | None = Field(None, description="which endpoint answered (several endpoints)")
    verdict: Verdict

    @property
    def correct(self) -> bool | None:
        return self.verdict.correct


class EvalConfig(BaseModel):
    """What an evaluation folder holds; resuming with any of RESUME_KEYS changed is refused."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    spec: str = ""
    problems: list[str]
    backend: dict[str, Any]
    sampling: dict[str, Any]
    samples: int = 1
    runs: int
    seed: int
    level: str
    prompt_levels: bool = False
    templates: dict[str, str]
    grader: str = Field(description="the grader's behaviour version: another grader, other verdicts (regraded, not regenerated)")
    judge: dict[str, Any] | None = None

    def changed_from(self, old: "EvalConfig") -> list[str]:
        return [k for k in RESUME_KEYS if getattr(old, k) != getattr(self, k)]


class RegradeRecord(BaseModel):
    """One line of regrades.jsonl: an evaluation graded again, the grader version it replaced and what changed."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    from_: str = Field(alias="from", description="the grader version whose verdicts were replaced")
    to: str = Field(description="the grader version that graded them again")
    records: int
    changed: int = Field(description="verdicts whose correct/wrong/undecided changed")
    judge: bool
    at: str


class RunAccuracy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: int
    seed: int
    n: int
    correct: int
    accuracy: float


class GroupAccuracy(BaseModel):
    """Accuracy of one year/section/... : mean and sample std over runs."""

    model_config = ConfigDict(extra="forbid")

    mean: float
    std: float
    runs: int
    n: int


class SessionTiming(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generation_s: float
    grading_s: float
    generated: int
    wall_s: float
    outside_generation_share: float | None


class EvalSummary(BaseModel):
    """summary.json: accuracy over runs (mean ± std, bootstrap CI), breakdowns, rates and the decoding setup."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = 2
    n_problems: int
    n_responses: int
    runs: list[RunAccuracy]
    mean: float
    std: float = Field(description="sample std over runs (ddof=1)")
    ci95: list[float] = Field(description="bootstrap 95% CI of the mean over problems")
    by_year: dict[str, GroupAccuracy]
    by_section: dict[str, GroupAccuracy]
    by_subject: dict[str, GroupAccuracy]
    by_difficulty: dict[str, GroupAccuracy]
    mean_words: float
    mean_tokens: float
    tokens_per_correct: float | None = Field(None, description="completion tokens of every response over the correct ones (None: none correct)")
    accuracy_at_budget: dict[str, float] = Field(default_factory=dict, description="budget N -> share of responses correct within N completion tokens")
    truncated_rate: float
    error_rate: float
    undecided_rate: float
    judge_rate: float
    forced_rate: float
    answer_format_rate: float
    mean_thinking_words: float
    mean_answer_words: float
    accuracy_note: str
    sample_metrics: dict[str, Any] | None = Field(None, description="avg@N, maj@N and pass@k, with --samples > 1")
    decoding: dict[str, Any]
    spec: str = ""
    level: str
    backend: dict[str, Any]
    sampling: dict[str, Any]
    seed: int
    templates: dict[str, str]
    grader: str
    judge: dict[str, Any] | None = None
    prompt_levels: bool = False
    this_session: SessionTiming | None = None


def read_summary(folder: Path) -> EvalSummary:
    return read_record(Path(folder) / "summary.json", EvalSummary, "an evaluation summary", "run `distill eval run` again into it")




class LevelRow(BaseModel):
    """One level of a length study: accuracy over runs and mean response length."""

    model_config = ConfigDict(extra="forbid")

    mean: float
    std: float
    mean_words: float
    runs: list[RunAccuracy]
    n_problems: int
    ci95: list[float]


class LengthStudy(BaseModel):
    """length_study.json: accuracy against response length, one evaluation folder per level."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    mode: Literal["adapters", "prompt-levels"]
    levels: dict[str, LevelRow]


def read_length_study(folder: Path) -> LengthStudy:
    return read_record(Path(folder) / "length_study.json", LengthStudy, "a length study", "run `distill eval length-study` again into it")


__all__ = ["EvalConfig", "EvalSummary", "GroupAccuracy", "LengthStudy", "LevelRow", "RegradeRecord", "RunAccuracy", "SessionTiming", "read_length_study",
           "read_records", "read_summary"]


def read_records(path: Path) -> list[ResponseRecord]:
    """The records of responses.jsonl, the latest one per (problem, run): a response that failed to
    generate is written again when the evaluation resumes, and the new line replaces the old."""
    if not path.exists():
        return []
    latest: dict[tuple[str, int, int], ResponseRecord] = {}
    for _, rec in read_jsonl_records(path, ResponseRecord, "a response record", "evaluate into a new --out folder", log=True):
        latest[(rec.problem_id, rec.run, rec.sample)] = rec
    return list(latest.values())
