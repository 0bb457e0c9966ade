"""Preference training (DPO, ORPO) through mlx-lm-lora's trainer, watched and kept like a supervised run:
the same best-by-validation callback, checkpoints, metrics, plot and versioned summary. The validation
report adds the preference accuracy (chosen scored above rejected) and margin on held-out pairs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distill.io import write_record

from .args import FinetuneArgs
from .callbacks import BestAdapterCallback, EarlyStop, read_metrics
from .data import load_rows, train_and_valid
from .policy import prepare_policy, quiet_trainer, trainer_import_error
from .records import FinetuneSummary, PreferenceReport

PAIR_KEYS = ("prompt", "chosen", "rejected")


def load_pairs(folder: Path, split: str) -> list[dict[str, Any]]:
    return load_rows(folder, split, PAIR_KEYS, "(write one with `distill corpus export --format dpo`)")


def run_preference(args: FinetuneArgs, on_report: Callable[[dict[str, Any]], None] | None = None) -> FinetuneSummary:
    """DPO or ORPO from a base model (or an SFT adapter): keep the adapter with the best validation loss."""
    import mlx.optimizers as optim

    try:
        from mlx_lm_lora.trainer.datasets import DPODataset, ORPODataset
        from mlx_lm_lora.trainer.dpo_trainer import DPOTrainingArgs, train_dpo
        from mlx_lm_lora.trainer.orpo_trainer import ORPOTrainingArgs, train_orpo
    except ImportError:
        raise trainer_import_error(args.method) from None
    args.validate_paths()
    data = Path(args.data)
    train_rows, valid_rows = train_and_valid(data, load_pairs, "pairs", args.batch_size)
    pol = prepare_policy(args, needs_ref=args.method == "dpo")
    cb = BestAdapterCallback(pol.model, pol.out, offset=pol.offset, patience=args.early_stop_patience, state=pol.state, on_report=on_report)
    common = dict(batch_size=args.batch_size, iters=pol.remaining(args.iters), val_batches=args.val_batches,
                  steps_per_report=args.steps_per_report, steps_per_eval=args.steps_per_eval, steps_per_save=args.save_every,
                  max_seq_length=args.max_seq_length, adapter_file=str(pol.out / "checkpoints" / "adapters.safetensors"), beta=args.beta,
                  grad_checkpoint=args.grad_checkpoint)
    opt = optim.Adam(learning_rate=args.learning_rate)
    t0 = time.perf_counter()
    if common["iters"] > 0:
        with quiet_trainer(), contextlib.suppress(EarlyStop):
            if args.method == "dpo":
                train_dpo(model=pol.model, ref_model=pol.ref, optimizer=opt, train_dataset=DPODataset(train_rows, pol.tokenizer),
                          val_dataset=DPODataset(valid_rows, pol.tokenizer), args=DPOTrainingArgs(**common, loss_type=args.dpo_loss),
                          training_callback=cb, loss_type=args.dpo_loss)
            else:  # ORPO: no reference model; the odds ratio is added to the chosen text's own likelihood
                train_orpo(model=pol.model, optimizer=opt, train_dataset=ORPODataset(train_rows, pol.tokenizer, system_key="system"),
                           val_dataset=ORPODataset(valid_rows, pol.tokenizer, system_key="system"), args=ORPOTrainingArgs(**common),
                           training_callback=cb)
    return _summary(args, pol.out, cb, len(train_rows), len(valid_rows), time.perf_counter() - t0)


def _summary(args: FinetuneArgs, out: Path, cb: BestAdapterCallback, n_train: int, n_valid: int, wall: float) -> FinetuneSummary:
    from .plot import plot_losses

    metrics = read_metrics(out / "metrics.jsonl")
    vals = [m for m in metrics if m["kind"] == "val"]
    best = next((m for m in vals if m["iteration"] == cb.best_iter), None)
    first = vals[0] if vals else None
    pref = PreferenceReport(accuracy_before=first.get("val_accuracies") if first else None, margin_before=first.get("val_margins") if first else None,
                            accuracy_best=best.get("val_accuracies") if best else None, margin_best=best.get("val_margins") if best else None)
    record = FinetuneSummary(
        best_iteration=cb.best_iter, best_val_loss=cb.best_val if cb.best_iter is not None else None, final_val_loss=cb.last_val,
        base_val_loss=first["val_loss"] if first else None, iterations_run=max([m["iteration"] for m in metrics] + [0]),
        iterations_planned=args.iters, stopped_early=cb.stopped_early, train_examples=n_train, valid_examples=n_valid, test_examples=0,
        truncated_examples={}, wall_seconds=round(wall, 3), tokens_per_second=None, peak_memory_gb=None,
        adapter=str(out / "adapters.safetensors"), method=args.method, preference=pref,
    )
    write_record(out / "summary.json", record)
    plot_losses(metrics, out / "loss.png", cb.best_iter, title=f"{args.title or args.method.upper()} on {Path(args.model).name}: best iteration {cb.best_iter}")
    return record
