"""study.json: every number of the study report in one record, written from this model."""

from __future__ import annotations

from typing import Any, Literal

from distill.evaluation.records import EvalSummary
from distill.finetune.records import FinetuneSummary
from pydantic import BaseModel, ConfigDict, Field

from .bought import Bought, CostRow


class CorpusTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problems: int
    accepted: int
    rejected: int
    failed: int
    rejected_reasons: dict[str, int]
    tokens: dict[str, int]
    cost_usd: float | None = Field(description="at the roles' prices as recorded per transcript, else at the roles' current prices")


class FinetuneStep(BaseModel):
    """One level's fine-tuning step: its recorded outputs and its summary.json."""

    model_config = ConfigDict(extra="allow")  # the step's outputs, as the state file records them

    dir: str
    summary: FinetuneSummary


class Comparison(BaseModel):
    """A paired comparison b - a: bootstrap difference and McNemar on majority verdicts."""

    model_config = ConfigDict(extra="allow")  # common/only counts and the per-year bootstraps

    a: str
    b: str
    bootstrap: dict[str, Any]
    mcnemar_majority: dict[str, Any]


class StudyResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    name: str
    differences_from_published: list[str]
    significance: list[Comparison]
    evaluations: dict[str, EvalSummary]
    eval_dirs: dict[str, str]
    finetune: dict[str, FinetuneStep]
    corpus: CorpusTotals
    levels: dict[str, dict[str, Any]]
    distillation: Bought | None = Field(None, description="the report's first table: base against tuned per level, and its reading")
    cost: list[CostRow] = Field(default_factory=list, description="every student by tokens per correct answer, on the frontier or dominated")


__all__ = ["Comparison", "CorpusTotals", "FinetuneStep", "StudyResult"]
