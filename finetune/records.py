"""The fine-tuning run's on-disk records: finetune_config.json (the resolved arguments and versions),
checkpoints/state.json (where the run stopped) and summary.json (the kept adapter and its losses),
written from these models and read back through them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from distill.io import read_record


class FinetuneConfig(BaseModel):
    """finetune_config.json: what the run was asked, as resolved against the model."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    args: dict[str, Any] = Field(description="FinetuneArgs as given")
    num_layers_resolved: int
    model_layers: int
    truncation: dict[str, dict[str, Any]] = Field(description="per split: examples over max_seq_length")
    versions: dict[str, str | None]
    resumed_from_iteration: int | None = None
    ranks: int = 1


class CheckpointState(BaseModel):
    """checkpoints/state.json: where the run stopped, so that --resume continues from last.safetensors.
    Written at every validation report; a file from before the schema version had the same keys."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    iteration: int = Field(ge=0, description="the last validated iteration: last.safetensors holds its weights")
    best_iteration: int | None = None
    best_val_loss: float | None = Field(None, description="None until a finite validation loss was seen")
    final_val_loss: float | None = None
    bad_evals: int = Field(0, ge=0, description="validations since the best one, for early stopping")


class PreferenceReport(BaseModel):
    """DPO on held-out pairs: how often the chosen text scores above the rejected one, and by how much."""

    model_config = ConfigDict(extra="forbid")

    accuracy_before: float | None
    margin_before: float | None
    accuracy_best: float | None = Field(description="at the kept (best-validation) adapter")
    margin_best: float | None


class RewardReport(BaseModel):
    """GRPO: the mean reward on validation problems before training and at the kept adapter, and the
    training reward per report (mean and std over every completion of the steps it covers)."""

    model_config = ConfigDict(extra="forbid")

    rewards: list[str] = Field(description="the reward functions, in order")
    valid_before: float | None
    valid_best: float | None = Field(description="at the kept (best mean validation reward) adapter")
    train_curve: list[dict[str, float | int | None]] = Field(description="per training report: iteration, mean, std, and each reward's mean")
    zero_variance_share: float | None = Field(None, description="share of groups whose rewards were all equal (no gradient), over every step")
    flat_steps_at_end: int = Field(0, description="steps in a row at the end of the run in which every group was zero-variance")
    stopped_flat: bool = Field(False, description="stopped by --stop-when-flat")


class FinetuneSummary(BaseModel):
    """summary.json: the kept (best-validation) adapter and the losses that chose it."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    best_iteration: int | None
    best_val_loss: float | None
    final_val_loss: float | None
    base_val_loss: float | None = Field(description="validation loss before the first update: the base model's")
    iterations_run: int
    iterations_planned: int
    stopped_early: bool
    train_examples: int
    valid_examples: int
    test_examples: int
    truncated_examples: dict[str, int]
    wall_seconds: float
    tokens_per_second: float | None
    peak_memory_gb: float | None
    adapter: str
    ranks: int = 1
    test_loss: float | None = None
    test_perplexity: float | None = None
    method: str = "sft"
    preference: PreferenceReport | None = None
    reward: RewardReport | None = None


def read_checkpoint_state(folder: Path) -> CheckpointState:
    return read_record(Path(folder) / "checkpoints" / "state.json", CheckpointState, "a fine-tuning checkpoint state",
                       "start the run again without --resume")


def read_finetune_summary(folder: Path) -> FinetuneSummary:
    return read_record(Path(folder) / "summary.json", FinetuneSummary, "a fine-tuning summary", "run `distill finetune run` again into it")


__all__ = ["CheckpointState", "FinetuneConfig", "FinetuneSummary", "PreferenceReport", "RewardReport", "read_checkpoint_state", "read_finetune_summary"]
