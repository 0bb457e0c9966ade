"""Typed fine-tuning arguments with help text, readable from the CLI or a YAML/TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distill.errors import DistillError


class FinetuneArgs(BaseModel):
    """LoRA settings, named as mlx-lm names them; the same constraints hold on the CLI, in a
    --config-file and in a study's [finetune] table."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = Field("", description="Base model: a local path or a Hugging Face id.")
    data: str = Field("", description="Folder with train.jsonl, valid.jsonl (and optional test.jsonl).")
    out: str = Field("", description="Output folder for the adapter, metrics and plots.")
    iters: int = Field(200, gt=0, description="Training iterations.")
    batch_size: int = Field(4, gt=0, description="Minibatch size.")
    learning_rate: float = Field(1e-5, gt=0, description="Adam learning rate.")
    method: Literal["sft", "dpo", "orpo", "grpo"] = Field("sft", description="sft: supervised on chat rows (the study's); dpo, orpo: "
                                                          "preference pairs from `corpus export --format dpo`; grpo: RL on a problem set with "
                                                          "distill's grader as the reward (all three through mlx-lm-lora).")
    adapter: str | None = Field(None, description="Start from this adapter (e.g. the SFT one); the reference model of DPO and GRPO is "
                                "the base with it.")
    beta: float = Field(0.1, ge=0, description="DPO/ORPO: strength of the preference; GRPO: weight of the KL penalty to the reference "
                        "(0: no reference model).")
    dpo_loss: Literal["sigmoid", "hinge", "ipo", "dpop"] = Field("sigmoid", description="DPO loss variant.")
    problems: str | None = Field(None, description="GRPO: training problems, chosen like `eval run --problems` (SOURCE[:YEARS], "
                                 "ids, @file), with their keys.")
    valid_problems: str | None = Field(None, description="GRPO: validation problems (default: every fifth training problem, held out).")
    group_size: int = Field(4, ge=2, description="GRPO: completions sampled per prompt (the group its advantages are measured in).")
    max_completion_length: int = Field(512, gt=0, description="GRPO: longest completion in tokens.")
    temperature: float = Field(0.8, gt=0, description="GRPO: sampling temperature of the completions.")
    grpo_loss: Literal["grpo", "bnpo", "dr_grpo"] = Field("grpo", description="GRPO loss variant (dr_grpo: Dr. GRPO's length-unbiased "
                                                          "normalisation).")
    epsilon: float = Field(0.2, gt=0, description="GRPO: clipping width of the importance ratio.")
    epsilon_high: float | None = Field(None, gt=0, description="GRPO: upper clipping width (DAPO's clip-higher; default --epsilon).")
    reward: Literal["correct", "correct+format", "format"] = Field("correct", description="GRPO reward: correct (the grader: 1 right, 0 "
                                                                    "wrong, --abstain-reward undecided), format (a final `\\boxed{}` "
                                                                    "answer line), or both.")
    stop_when_flat: int | None = Field(None, gt=0, description="GRPO: stop after N steps in a row in which every group's rewards were "
                                       "all equal (zero variance: no gradient).")
    abstain_reward: float = Field(0.0, description="GRPO: reward when the grader cannot decide.")
    format_weight: float = Field(0.2, ge=0, description="GRPO: weight of the format reward beside correctness (1).")
    fine_tune_type: Literal["lora", "full"] = Field("lora", description="lora: low-rank adapters (the study's); full: every weight "
                                                    "(mlx-lm's full fine-tuning, for tiny models such as the demo's).")
    lora_rank: int = Field(8, gt=0, description="LoRA rank.")
    lora_scale: float = Field(20.0, description="LoRA scale (alpha).")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="LoRA dropout.")
    num_layers: int = Field(16, ge=-1, description="Layers to adapt, counted from the top; -1 for all (a model with fewer gets all, with a note).")
    steps_per_eval: int = Field(20, gt=0, description="Iterations between validation losses (~10 points per 200-iteration run).")
    steps_per_report: int = Field(10, gt=0, description="Iterations between training-loss reports.")
    save_every: int = Field(50, gt=0, description="Iterations between periodic checkpoints.")
    val_batches: int = Field(25, ge=-1, description="Validation batches per evaluation; -1 for the whole set.")
    max_seq_length: int = Field(2048, gt=0, description="Longest sequence in tokens; longer examples are truncated.")
    mask_prompt: bool = Field(True, description="Train on the assistant turn only.")
    grad_checkpoint: bool = Field(False, description="Gradient checkpointing (less memory, slower).")
    seed: int = Field(0, description="Random seed.")
    early_stop_patience: int | None = Field(None, gt=0, description="Stop after N validations without a new best.")
    resume: bool = Field(False, description="Continue from the last checkpoint in --out.")
    title: str | None = Field(None, description="Name of this run in plots and reports, e.g. `R3 student`.")

    @field_validator("num_layers", "val_batches")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("must be positive, or -1 for all")
        return v

    @classmethod
    def build(cls, values: dict[str, Any], *, table: str | None = None, path: object | None = None) -> "FinetuneArgs":
        """Validated args, or a one-line DistillError naming the setting: `--iters` on the command
        line, `[finetune] iters` in a config file's table."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err.get("loc") else ""
            name = f"[{table}] {key}" if table else "--" + key.replace("_", "-")
            msg = "unknown setting" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
            raise DistillError(f"{name}: {msg}", path=path) from None

    def validate_paths(self) -> None:
        for name in ("model", "data", "out"):
            if name == "data" and self.method == "grpo" and self.problems:
                continue  # the CLI writes the prompt set into --out
            if not getattr(self, name):
                raise DistillError(f"--{name} is required")
        from distill.params import writable_problem

        if why := writable_problem(Path(self.out), dir_wanted=True):
            raise DistillError(f"--out: {why}")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def read_config_file(path: Path) -> dict[str, Any]:
    """YAML or TOML; keys are FinetuneArgs fields (dashes or underscores)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DistillError("config file not found", path=path) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise DistillError("not a UTF-8 text file", path=path) from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as exc:
        raise DistillError(f"cannot parse ({exc})".splitlines()[0], path=path) from None
    if not isinstance(data, dict):
        raise DistillError("expected a mapping of settings", path=path)
    data = data.get("finetune", data)
    known = set(FinetuneArgs.model_fields)
    out = {}
    for k, v in data.items():
        key = k.replace("-", "_")
        if key not in known:
            raise DistillError(f"unknown setting {k!r}", path=path)
        out[key] = v
    return out
