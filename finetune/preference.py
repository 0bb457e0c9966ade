"""Preference training (DPO) through mlx-lm-lora's trainer, watched and kept like a supervised run:
the same best-by-validation callback, checkpoints, metrics, plot and versioned summary. The validation
report adds the preference accuracy (chosen scored above rejected) and margin on held-out pairs."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import atomic_write_json, read_jsonl, write_record

from .args import FinetuneArgs
from .callbacks import BestAdapterCallback, read_metrics
from .records import FinetuneConfig, FinetuneSummary, PreferenceReport

PAIR_KEYS = ("prompt", "chosen", "rejected")


def load_pairs(folder: Path, split: str) -> list[dict[str, Any]]:
    path = folder / f"{split}.jsonl"
    if not path.exists():
        raise DistillError(f"{split}.jsonl: missing split (write one with `distill corpus export --format dpo`)", path=folder)
    rows = []
    for lineno, row in read_jsonl(path, 'a {"prompt", "chosen", "rejected"} object'):
        missing = [k for k in PAIR_KEYS if not isinstance(row.get(k), str)]
        if missing:
            raise DistillError(f"expected a preference pair with {', '.join(PAIR_KEYS)}; {', '.join(missing)} missing", path=path,
                               where=f"line {lineno}")
        rows.append(row)
    return rows


def _with_adapter(model, adapter: str | None) -> None:
    """LoRA layers as `adapter` was trained with, its weights loaded; none when no adapter is given."""
    from mlx_lm.tuner import linear_to_lora_layers

    if adapter is None:
        return
    cfg = json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))
    if cfg.get("fine_tune_type", "lora") == "lora":
        linear_to_lora_layers(model, cfg["num_layers"], cfg["lora_parameters"])
    model.load_weights(str(Path(adapter) / "adapters.safetensors"), strict=False)


def run_preference(args: FinetuneArgs, on_report: Callable[[dict[str, Any]], None] | None = None) -> FinetuneSummary:
    """DPO from a base model (or an SFT adapter): keep the adapter with the best validation loss."""
    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_lm.tuner import linear_to_lora_layers

    from .run import adapter_config, load_model

    try:
        from mlx_lm_lora.trainer.datasets import DPODataset
        from mlx_lm_lora.trainer.dpo_trainer import DPOTrainingArgs, train_dpo
    except ImportError:
        raise DistillError("--method dpo trains with mlx-lm-lora: pip install 'distill[rl]' (mlx-lm-lora)") from None
    args.validate_paths()
    out, data = Path(args.out), Path(args.data)
    train_rows, valid_rows = load_pairs(data, "train"), load_pairs(data, "valid")
    for name, rows in (("train", train_rows), ("valid", valid_rows)):
        if len(rows) < args.batch_size:
            raise DistillError(f"{name}.jsonl has {len(rows)} pairs; it needs at least --batch-size ({args.batch_size})", path=data)
    if (out / "metrics.jsonl").exists():
        raise DistillError("already holds a run; choose another --out", path=out)
    mx.random.seed(args.seed)
    model, tok = load_model(args.model)
    ref, _ = load_model(args.model)
    for m in (model, ref):
        m.freeze()
        _with_adapter(m, args.adapter)
    n_layers = len(model.layers)
    num_layers = n_layers if args.num_layers == -1 else min(args.num_layers, n_layers)
    if args.adapter is None:
        linear_to_lora_layers(model, num_layers, {"rank": args.lora_rank, "scale": args.lora_scale, "dropout": args.lora_dropout})
    else:
        model.unfreeze(keys=["lora_a", "lora_b"], strict=False)  # continue the adapter's own low-rank weights
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    cfg = adapter_config(args, num_layers) if args.adapter is None else json.loads((Path(args.adapter) / "adapter_config.json").read_text())
    atomic_write_json(out / "adapter_config.json", cfg)
    write_record(out / "finetune_config.json", FinetuneConfig(args=args.to_dict(), num_layers_resolved=num_layers, model_layers=n_layers,
                                                               truncation={}, versions=_versions(), ranks=1))
    cb = BestAdapterCallback(model, out, patience=args.early_stop_patience, on_report=on_report)
    targs = DPOTrainingArgs(batch_size=args.batch_size, iters=args.iters, val_batches=args.val_batches, steps_per_report=args.steps_per_report,
                            steps_per_eval=args.steps_per_eval, steps_per_save=args.save_every, max_seq_length=args.max_seq_length,
                            adapter_file=str(out / "checkpoints" / "adapters.safetensors"), beta=args.beta, loss_type=args.dpo_loss)
    t0 = time.perf_counter()
    with _device_info_for_cpu(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        train_dpo(model=model, ref_model=ref, optimizer=optim.Adam(learning_rate=args.learning_rate),
                  train_dataset=DPODataset(train_rows, tok), val_dataset=DPODataset(valid_rows, tok), args=targs,
                  training_callback=cb, loss_type=args.dpo_loss)
    return _summary(args, out, cb, len(train_rows), len(valid_rows), time.perf_counter() - t0)


@contextlib.contextmanager
def _device_info_for_cpu():
    """mlx-lm-lora sets Metal's wired-memory limit from `mx.device_info()`, which on the CPU backend has no
    `max_recommended_working_set_size`: give it 0 there (no limit to set), so the trainer runs on Linux too."""
    import mlx.core as mx

    original = mx.device_info
    if "max_recommended_working_set_size" in original():
        yield
        return

    def info() -> dict[str, Any]:
        return {**original(), "max_recommended_working_set_size": 0}

    mx.device_info = info
    try:
        yield
    finally:
        mx.device_info = original


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in ("mlx", "mlx-lm", "mlx-lm-lora"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


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
    plot_losses(metrics, out / "loss.png", cb.best_iter, title=f"{args.title or 'DPO'} on {Path(args.model).name}: best iteration {cb.best_iter}")
    return record
