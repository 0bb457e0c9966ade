"""Exact resume for supervised fine-tuning: a checkpoint holds everything the next step depends on, so a run
stopped at any checkpoint and resumed ends with the weights of one that ran straight through.

- the weights (LoRA adapters, or every weight for a full fine-tune): checkpoints/last.safetensors;
- the optimizer's state (Adam's moments, its step count and learning rate): checkpoints/optimizer.safetensors;
- the random key: training step n draws from a key seeded by (seed, n) (MLX has no public way to set a saved key),
  so dropout at step n is the same in every run;
- the data position: the training batches come from a private, seeded RandomState (mlx-lm's own
  `iterate_batches` run inside it), so the k-th batch is the same in every run, and a resumed run skips the
  batches already trained on;
- the schedule: validations, reports and checkpoints fall on absolute iterations (multiples of
  --steps-per-eval, --steps-per-report, --save-every, and the last), whatever iteration a run started from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

from distill.io import write_record

from .callbacks import BestAdapterCallback, save_adapter

class SeededBatches:
    """mlx-lm's `iterate_batches`, drawing its epoch permutations from a private RandomState: training batches
    (loop=True) in the same order in every run of a seed, the first `skip` of them skipped; validation batches
    (loop=False) the same subset at every evaluation. The global numpy RNG is left as it was."""

    def __init__(self, seed: int, skip: int = 0):
        self.seed, self.skip = seed, skip

    def __call__(self, dataset, batch_size, max_seq_length, loop=False, seed=None, comm_group=None) -> Iterator[Any]:
        from mlx_lm.tuner.trainer import iterate_batches

        rs = np.random.RandomState((self.seed, 0 if loop else 1))
        inner = iterate_batches(dataset=dataset, batch_size=batch_size, max_seq_length=max_seq_length, loop=loop, comm_group=comm_group)
        skip, self.skip = (self.skip, 0) if loop else (0, self.skip)
        n = 0
        while True:
            outer = np.random.get_state()
            np.random.set_state(rs.get_state())
            try:
                batch = next(inner)
            except StopIteration:
                return
            finally:
                rs.set_state(np.random.get_state())
                np.random.set_state(outer)
            n += 1
            if n > skip:
                if loop:  # the random key of training step n (dropout) is a function of (seed, n): the same in a resumed run
                    mx.random.seed((self.seed * 1_000_003 + n) % 2**63)
                yield batch


def save_optimizer(optimizer, path: Path) -> None:
    """The optimizer's state tree in one safetensors file (written whole or not at all)."""
    arrays = dict(tree_flatten(optimizer.state))
    tmp = path.with_name(path.stem + ".tmp.safetensors")
    mx.save_safetensors(str(tmp), arrays)
    tmp.replace(path)


def load_optimizer(optimizer, path: Path) -> bool:
    """Restore what save_optimizer wrote; False when the checkpoint predates it (weights-only resume)."""
    if not path.exists():
        return False
    optimizer.state = tree_unflatten(list(mx.load(str(path)).items()))
    return True


class ExactCallback(BestAdapterCallback):
    """Supervised fine-tuning's callback: mlx-lm reports every iteration (its own validation is off); this one
    reports, validates and checkpoints on absolute iterations, so a resumed run follows the same schedule."""

    def __init__(self, model, out: Path, *, optimizer, validate: Callable[[], float], iters: int, steps_per_eval: int,
                 steps_per_report: int, save_every: int, **kw):
        super().__init__(model, out, **kw)
        self.optimizer, self.validate = optimizer, validate
        self.iters, self.every_eval, self.every_report, self.every_save = iters, steps_per_eval, steps_per_report, save_every
        self.window: list[dict[str, Any]] = []

    def validate_now(self, it: int) -> None:
        t0 = time.perf_counter()
        val = self.validate()
        self._val(it, {"iteration": it, "val_loss": val, "val_time": time.perf_counter() - t0})

    def on_train_loss_report(self, info: dict[str, Any]) -> None:
        it = info["iteration"] + self.offset
        self.window.append(info)
        last = it == self.iters
        if it % self.every_report == 0 or last:
            w, self.window = self.window, []
            super().on_train_loss_report({
                "iteration": it - self.offset, "train_loss": sum(r["train_loss"] for r in w) / len(w), "learning_rate": w[-1]["learning_rate"],
                "tokens_per_second": sum(r["tokens_per_second"] for r in w) / len(w),
                "iterations_per_second": sum(r["iterations_per_second"] for r in w) / len(w),
                "trained_tokens": w[-1]["trained_tokens"], "peak_memory": max(r["peak_memory"] for r in w)})
        if it % self.every_eval == 0 or last:
            self.validate_now(it)
        if it % self.every_save == 0 or last:
            self.checkpoint(it)
        self._maybe_stop()

    def checkpoint(self, it: int) -> None:
        self.last_iter = it
        if self.writes:
            save_adapter(self.model, self.out / "checkpoints" / "last.safetensors")
            save_optimizer(self.optimizer, self.out / "checkpoints" / "optimizer.safetensors")
            write_record(self.out / "checkpoints" / "state.json", self.state())
