"""Typed fine-tuning arguments with help text, readable from the CLI or a YAML/TOML file."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from distill.errors import DistillError


@dataclass
class FinetuneArgs:
    model: str = field(default="", metadata={"help": "Base model: a local path or a Hugging Face id."})
    data: str = field(default="", metadata={"help": "Folder with train.jsonl, valid.jsonl (and optional test.jsonl)."})
    out: str = field(default="", metadata={"help": "Output folder for the adapter, metrics and plots."})
    iters: int = field(default=200, metadata={"help": "Training iterations."})
    batch_size: int = field(default=4, metadata={"help": "Minibatch size."})
    learning_rate: float = field(default=1e-5, metadata={"help": "Adam learning rate."})
    lora_rank: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_scale: float = field(default=20.0, metadata={"help": "LoRA scale (alpha)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    num_layers: int = field(default=16, metadata={"help": "Layers to adapt, counted from the top; -1 for all."})
    steps_per_eval: int = field(default=20, metadata={"help": "Iterations between validation losses (~10 points per 200-iteration run)."})
    steps_per_report: int = field(default=10, metadata={"help": "Iterations between training-loss reports."})
    save_every: int = field(default=50, metadata={"help": "Iterations between periodic checkpoints."})
    val_batches: int = field(default=25, metadata={"help": "Validation batches per evaluation; -1 for the whole set."})
    max_seq_length: int = field(default=2048, metadata={"help": "Longest sequence in tokens; longer examples are truncated."})
    mask_prompt: bool = field(default=True, metadata={"help": "Train on the assistant turn only."})
    grad_checkpoint: bool = field(default=False, metadata={"help": "Gradient checkpointing (less memory, slower)."})
    seed: int = field(default=0, metadata={"help": "Random seed."})
    early_stop_patience: int | None = field(default=None, metadata={"help": "Stop after N validations without a new best."})
    resume: bool = field(default=False, metadata={"help": "Continue from the last checkpoint in --out."})

    def validate(self) -> None:
        for name in ("model", "data", "out"):
            if not getattr(self, name):
                raise DistillError(f"--{name} is required")
        positive = ("iters", "batch_size", "lora_rank", "steps_per_eval", "steps_per_report", "save_every", "max_seq_length")
        for name in positive:
            if getattr(self, name) <= 0:
                raise DistillError(f"--{name.replace('_', '-')} must be positive")
        if self.num_layers == 0 or self.num_layers < -1:
            raise DistillError("--num-layers must be a positive number of layers, or -1 for all")
        if self.val_batches == 0 or self.val_batches < -1:
            raise DistillError("--val-batches must be positive, or -1 for the whole set")
        if self.learning_rate <= 0:
            raise DistillError("--learning-rate must be positive")
        if self.early_stop_patience is not None and self.early_stop_patience <= 0:
            raise DistillError("--early-stop-patience must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_config_file(path: Path) -> dict[str, Any]:
    """YAML or TOML; keys are FinetuneArgs fields (dashes or underscores)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DistillError("config file not found", path=path) from None
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
    known = {f.name for f in fields(FinetuneArgs)}
    out = {}
    for k, v in data.items():
        key = k.replace("-", "_")
        if key not in known:
            raise DistillError(f"unknown setting {k!r}", path=path)
        out[key] = v
    return out
