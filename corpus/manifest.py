"""manifest.json of an export: what was exported, from what, and what was left out."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from distill.io import read_record

from .decontaminate import Contamination

EXPORT_SCHEMA_VERSION = 2


class TokenReport(BaseModel):
    counted_by: str
    max: int
    mean: float
    max_seq_length: int
    over_max_seq_length: int


class PassRateReport(BaseModel):
    filter: list[float | None]
    mean: float | None


class Decontamination(BaseModel):
    ngram: int
    threshold: float
    evaluation_problems: int
    training_problems: int | None = Field(None, description="training candidates checked (absent in older manifests)")
    flagged: list[Contamination]
    excluded: bool


class ExportManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = EXPORT_SCHEMA_VERSION
    level: str
    pick: str
    seed: int
    counts: dict[str, int]
    years: dict[str, list[int]]
    valid_years: list[int]
    test_years: list[int]
    mean_words: dict[str, float]
    tokens: TokenReport
    level_words: dict[str, int | float | None] = Field(description="target vs achieved words of a restated level")
    pass_rate: PassRateReport
    decontamination: Decontamination
    skipped: dict[str, int]
    templates: dict[str, str]
    transcripts: dict[str, list[str]]
    models: dict[str, list[str]] = Field(default_factory=dict, description="role -> the models whose transcripts were exported")
    license: str | None = Field(None, description="the license the user set for the data")
    grader_version: str | None = Field(None, description="the grader version every exported transcript was accepted by")
    empty_splits: dict[str, str] = Field(default_factory=dict, description="split -> why it has no rows (its file is not written)")
    format: str = Field("mlx", description="mlx (chat rows), hf (parquet + card) or dpo (preference pairs)")
    pairs: dict[str, int] | None = Field(None, description="--format dpo: pairs of each kind (samples, rounds, shorter)")
    pair_form: str | None = Field(None, description="--format dpo: solver (both sides the Solver's replies) or formatted (both rewrites)")
    pairs_dropped: dict[str, int] | None = Field(None, description="--format dpo: candidate pairs left out, by why (forms differ, ...)")
    conditioned: bool = Field(False, description="--level all: every level's instruction is in the student prompt (one length-conditioned student)")
    mix: dict[str, float] | None = Field(None, description="--level mix:...: each level's share of the problems")
    mix_assigned: dict[str, int] | None = Field(None, description="a mix: problems drawn for each level with the seed, before any was left out")
    level_rows: dict[str, dict[str, int]] | None = Field(None, description="--level all or mix: rows per split and level")
    level_mean_words: dict[str, float] | None = Field(None, description="--level all or mix: mean words of each level's rows")

    @classmethod
    def read(cls, path: Path) -> "ExportManifest":
        return read_record(path, cls, "an export manifest", "export again")
