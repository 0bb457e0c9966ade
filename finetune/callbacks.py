"""Watching a run through mlx-lm's TrainingCallback: metrics, the best adapter, early stopping."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx.utils import tree_flatten
from mlx_lm.tuner.callbacks import TrainingCallback

from distill.io import append_jsonl, read_jsonl, write_record

from .records import CheckpointState

METRICS_SCHEMA_VERSION = 1


class EarlyStop(Exception):
    """Raised from the callback to end mlx-lm's training loop."""


def save_adapter(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.safetensors")
    mx.save_safetensors(str(tmp), dict(tree_flatten(model.trainable_parameters())))
    tmp.replace(path)  # never a half-written adapter


class BestAdapterCallback(TrainingCallback):
    """Keeps the adapter with the lowest validation loss; writes metrics.jsonl and state.json.

    mlx-lm computes the validation loss before the update of its iteration and reports it as
    `iteration - 1`, so at report time the model's weights are exactly those the loss was measured on.
    """

    def __init__(self, model, out: Path, *, offset: int = 0, patience: int | None = None, state: CheckpointState | None = None,
                 on_report: Callable[[dict[str, Any]], None] | None = None, writes: bool = True):
        self.model = model
        self.writes = writes  # rank 0 of a distributed run writes; the other ranks only train (losses are all-reduced alike)
        self.best_weights: dict[str, Any] = {}  # the best adapter in memory, on every rank (for the test loss)
        self.out = out
        self.offset = offset
        self.patience = patience
        st = state or CheckpointState(iteration=0)
        self.best_val = st.best_val_loss if st.best_val_loss is not None else float("inf")
        self.best_iter = st.best_iteration
        self.bad_evals = st.bad_evals
        self.last_val: float | None = st.final_val_loss
        self.last_iter = st.iteration
        self.tokens_per_s: list[float] = []
        self.on_report = on_report
        self.stopped_early = False

    def _write(self, row: dict[str, Any]) -> None:
        if not self.writes:
            return
        row = {"schema_version": METRICS_SCHEMA_VERSION, **row}
        append_jsonl(self.out / "metrics.jsonl", row)
        if self.on_report:
            self.on_report(row)

    def on_train_loss_report(self, info: dict[str, Any]) -> None:
        self.tokens_per_s.append(info["tokens_per_second"])
        self._write({"kind": "train", "iteration": info["iteration"] + self.offset, "train_loss": info["train_loss"],
                     "learning_rate": info["learning_rate"], "tokens_per_second": info["tokens_per_second"],
                     "iterations_per_second": info["iterations_per_second"], "trained_tokens": info["trained_tokens"],
                     "peak_memory_gb": info["peak_memory"], "time": time.time(), **_extras(info, "train_", ("train_loss",))})

    def score(self, info: dict[str, Any]) -> float:
        """What the kept adapter minimises: the validation loss (GRPO's callback uses the reward instead)."""
        return float(info["val_loss"])

    def on_val_loss_report(self, info: dict[str, Any]) -> None:
        it = info["iteration"] + self.offset
        if self.offset and it == self.offset == self.last_iter:
            return  # a resumed run re-measures the checkpoint it started from: already recorded, not a new evaluation
        self._val(it, info)
        if self.writes:
            save_adapter(self.model, self.out / "checkpoints" / "last.safetensors")
            write_record(self.out / "checkpoints" / "state.json", self.state())
        self._maybe_stop()

    def _val(self, it: int, info: dict[str, Any]) -> None:
        """Record one validation at absolute iteration `it`: the best adapter, the metrics row."""
        val = self.score(info)
        improved = val < self.best_val
        if improved:
            self.best_val, self.best_iter, self.bad_evals = val, it, 0
            self.best_weights = dict(tree_flatten(self.model.trainable_parameters()))
            if self.writes:
                save_adapter(self.model, self.out / "adapters.safetensors")
        elif it > (self.best_iter or 0):
            self.bad_evals += 1
        self.last_val, self.last_iter = val, it
        self._write({"kind": "val", "iteration": it, "val_loss": float(info["val_loss"]), "val_time": info["val_time"], "best": improved,
                     "time": time.time(), **_extras(info, "val_", ("val_loss", "val_time"))})

    def _maybe_stop(self) -> None:
        if self.patience is not None and self.bad_evals >= self.patience:
            self.stopped_early = True
            raise EarlyStop(f"no new best validation loss in {self.patience} evaluations")

    def state(self) -> CheckpointState:
        finite = self.best_val if math.isfinite(self.best_val) else None  # JSON has no infinity
        return CheckpointState(iteration=self.last_iter, best_iteration=self.best_iter, best_val_loss=finite,
                               final_val_loss=self.last_val, bad_evals=self.bad_evals)


def _extras(info: dict[str, Any], prefix: str, known: tuple[str, ...]) -> dict[str, float]:
    """The method's own numbers (DPO's accuracies and margins, GRPO's rewards and KL) as plain floats."""
    out = {}
    for k, v in info.items():
        if k.startswith(prefix) and k not in known:
            try:
                out[k] = float(v.item() if hasattr(v, "item") else v)
            except (TypeError, ValueError):
                continue
    return out


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl rows; a last line torn by a killed run is dropped."""
    return [row for _, row in read_jsonl(path, log=True)] if path.exists() else []
