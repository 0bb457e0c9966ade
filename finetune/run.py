"""One LoRA run through mlx-lm's own tuner, keeping the adapter with the best validation loss."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import atomic_write_json, atomic_write_jsonl, write_record

from .args import FinetuneArgs
from .model import adapter_config, load_model
from .callbacks import BestAdapterCallback, EarlyStop, read_metrics
from .data import Splits, load_splits, truncation_report
from .records import FinetuneConfig, FinetuneSummary, read_checkpoint_state

log = logging.getLogger("distill.finetune")


def _datasets(splits: Splits, tokenizer, mask_prompt: bool):
    from mlx_lm.tuner.datasets import CacheDataset, ChatDataset

    def wrap(rows):
        return CacheDataset(ChatDataset(rows, tokenizer, chat_key="messages", mask_prompt=mask_prompt)) if rows else None

    return wrap(splits.train), wrap(splits.valid), wrap(splits.test)


def evaluate_loss(model, dataset, batch_size: int, max_seq_length: int) -> float:
    from mlx_lm.tuner import evaluate

    return float(evaluate(model=model, dataset=dataset, batch_size=min(batch_size, len(dataset)), num_batches=-1,
                          max_seq_length=max_seq_length))


@dataclass
class Prepared:
    """A run ready to train: the model with LoRA layers (weights resumed), the data and where to write."""

    out: Path
    model: Any
    tokenizer: Any
    splits: Splits
    num_layers: int
    truncation: dict[str, dict[str, Any]]
    offset: int
    state: Any
    world: Any

    @property
    def main(self) -> bool:
        return self.world.rank() == 0  # only rank 0 writes adapters, metrics, plots and summaries


def run_finetune(args: FinetuneArgs, on_report: Callable[[dict[str, Any]], None] | None = None) -> FinetuneSummary | None:
    """Train, keep the best adapter, write metrics, summary and plot. Returns the summary (None on ranks other than 0)."""
    if args.method in ("dpo", "orpo"):
        from .preference import run_preference

        return run_preference(args, on_report)
    if args.method == "grpo":
        from .grpo import run_grpo

        return run_grpo(args, on_report)
    run = _prepare(args)
    t0 = time.perf_counter()
    cb = _train(args, run, on_report)
    wall = time.perf_counter() - t0
    test_loss = _test_loss(args, run, cb)
    if not run.main:
        return None
    return _summarise(args, run, cb, wall, test_loss)


def _check_data(args: FinetuneArgs, out: Path, main: bool):
    splits = load_splits(Path(args.data))
    for name in ("train", "valid"):
        n = len(getattr(splits, name))
        if n < args.batch_size:
            raise DistillError(f"{name}.jsonl has {n} examples; it needs at least --batch-size ({args.batch_size})", path=args.data)
    state_file = out / "checkpoints" / "state.json"
    state = read_checkpoint_state(out) if args.resume and state_file.exists() else None
    if args.resume and state is None:
        raise DistillError("nothing to resume (no checkpoints/state.json)", path=out)
    if main and not args.resume and (out / "metrics.jsonl").exists():
        raise DistillError("already holds a run; pass --resume to continue it or choose another --out", path=out)
    return splits, state


def _prepare(args: FinetuneArgs) -> Prepared:
    import mlx.core as mx
    import numpy as np
    from mlx_lm.tuner import linear_to_lora_layers

    args.validate_paths()
    out = Path(args.out)
    world = mx.distributed.init()  # a group of one without a launcher
    splits, state = _check_data(args, out, world.rank() == 0)
    model, tokenizer = load_model(args.model)
    n_layers = len(model.layers)
    num_layers = n_layers if args.num_layers == -1 else args.num_layers
    if num_layers > n_layers:
        log.warning("note: the model has %d layers; --num-layers %d asks for more, so all %d are adapted", n_layers, num_layers, n_layers)
        num_layers = n_layers
    mx.random.seed(args.seed)
    np.random.seed(args.seed)
    if args.fine_tune_type == "lora":
        model.freeze()
        linear_to_lora_layers(model, num_layers, {"rank": args.lora_rank, "scale": args.lora_scale, "dropout": args.lora_dropout})
    run = Prepared(out, model, tokenizer, splits, num_layers, truncation_report(splits, tokenizer, args.max_seq_length),
                   state.iteration if state is not None else 0, state, world)
    if state is not None:
        model.load_weights(str(out / "checkpoints" / "last.safetensors"), strict=False)
        # the resumed run reports everything after the checkpoint again: keep only what came before it
        if run.main:
            atomic_write_jsonl(out / "metrics.jsonl", [m for m in read_metrics(out / "metrics.jsonl") if m["iteration"] <= run.offset])
    if run.main:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "adapter_config.json", adapter_config(args, num_layers))
        write_record(out / "finetune_config.json", FinetuneConfig(
            args=args.to_dict(), num_layers_resolved=num_layers, model_layers=n_layers, truncation=run.truncation,
            versions={p: version(p) for p in ("mlx", "mlx-lm")}, resumed_from_iteration=run.offset or None, ranks=world.size()))
    return run


def _train(args: FinetuneArgs, run: Prepared, on_report: Callable[[dict[str, Any]], None] | None) -> BestAdapterCallback:
    """mlx-lm's `train` with exact resume (resume.py): seeded batches from the checkpoint's position, the optimizer's
    moments and step and MLX's random key restored, validation and checkpoints on absolute iterations."""
    import mlx.optimizers as optim
    from mlx_lm.tuner import TrainingArgs, train

    from .resume import ExactCallback, SeededBatches, load_optimizer

    train_ds, val_ds, _ = _datasets(run.splits, run.tokenizer, args.mask_prompt)
    optimizer = optim.Adam(learning_rate=args.learning_rate)
    if run.state is not None and not load_optimizer(optimizer, run.out / "checkpoints" / "optimizer.safetensors"):
        log.warning("note: this checkpoint predates exact resume (no optimizer.safetensors): the weights resume, Adam starts again")
    batches = SeededBatches(args.seed, skip=run.offset)

    def validate() -> float:
        from mlx_lm.tuner import evaluate

        loss = evaluate(model=run.model, dataset=val_ds, batch_size=args.batch_size, num_batches=args.val_batches,
                        max_seq_length=args.max_seq_length, iterate_batches=batches)
        run.model.train()
        return float(loss)

    cb = ExactCallback(run.model, run.out, optimizer=optimizer, validate=validate, iters=args.iters, steps_per_eval=args.steps_per_eval,
                       steps_per_report=args.steps_per_report, save_every=args.save_every, offset=run.offset,
                       patience=args.early_stop_patience, state=run.state, on_report=on_report, writes=run.main)
    remaining = args.iters - run.offset
    if remaining <= 0:
        return cb
    # mlx-lm reports every iteration and validates never: the callback keeps the schedule on absolute iterations
    targs = TrainingArgs(batch_size=args.batch_size, iters=remaining, val_batches=args.val_batches, steps_per_report=1,
                         steps_per_eval=remaining + 1, steps_per_save=args.save_every, max_seq_length=args.max_seq_length,
                         adapter_file=str(run.out / "checkpoints" / "adapters.safetensors"), grad_checkpoint=args.grad_checkpoint)
    # mlx-lm prints its own progress UI; ours (or none, with --quiet) replaces it
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            if run.offset == 0:
                cb.validate_now(0)  # the base model's validation loss (LoRA's zero-initialised B leaves it unchanged)
            train(model=run.model, optimizer=optimizer, train_dataset=train_ds, val_dataset=None, args=targs,
                  iterate_batches=batches, training_callback=cb)
        except EarlyStop:
            pass
    return cb


def _test_loss(args: FinetuneArgs, run: Prepared, cb: BestAdapterCallback) -> float | None:
    _, _, test_ds = _datasets(run.splits, run.tokenizer, args.mask_prompt)
    best_file = run.out / "adapters.safetensors"
    if test_ds is None or not (cb.best_weights or best_file.exists()):
        return None
    # every rank holds the best adapter in memory (or, after a resume that found no better one, reads the kept file)
    run.model.load_weights(list(cb.best_weights.items()) if cb.best_weights else str(best_file), strict=False)
    return evaluate_loss(run.model, test_ds, args.batch_size, args.max_seq_length)  # a collective: every rank takes part


def _summarise(args: FinetuneArgs, run: Prepared, cb: BestAdapterCallback, wall: float, test_loss: float | None) -> FinetuneSummary:
    import numpy as np

    metrics = read_metrics(run.out / "metrics.jsonl")
    train_rows = [m for m in metrics if m["kind"] == "train"]
    record = FinetuneSummary(
        best_iteration=cb.best_iter,
        best_val_loss=cb.best_val if cb.best_iter is not None else None,
        final_val_loss=cb.last_val,
        # mlx-lm validates before the first update, when LoRA's zero-initialised B leaves the base model unchanged
        base_val_loss=next((m["val_loss"] for m in metrics if m["kind"] == "val" and m["iteration"] == 0), None),
        iterations_run=max([m["iteration"] for m in train_rows] + [run.offset]),
        iterations_planned=args.iters, stopped_early=cb.stopped_early,
        train_examples=len(run.splits.train), valid_examples=len(run.splits.valid), test_examples=len(run.splits.test or []),
        truncated_examples={k: v["truncated"] for k, v in run.truncation.items()},
        wall_seconds=round(wall, 3),
        tokens_per_second=round(sum(cb.tokens_per_s) / len(cb.tokens_per_s), 1) if cb.tokens_per_s else None,
        peak_memory_gb=max((m["peak_memory_gb"] for m in train_rows), default=None),
        adapter=str(run.out / "adapters.safetensors"), ranks=run.world.size(),
        test_loss=test_loss, test_perplexity=float(np.exp(test_loss)) if test_loss is not None else None,
    )
    write_record(run.out / "summary.json", record)
    from .plot import plot_losses

    plot_losses(metrics, run.out / "loss.png", cb.best_iter, title=f"{args.title or 'LoRA'} on {Path(args.model).name}: best iteration {cb.best_iter}")
    return record


def fuse_adapter(model: str, adapter: Path, out: Path, prompts: list[str], max_tokens: int = 24) -> dict[str, Any]:
    """mlx-lm fuse, then check that fused and unfused greedy outputs agree."""
    import subprocess
    import sys

    import mlx_lm

    if out.exists() and any(out.iterdir()):
        raise DistillError("output folder is not empty", path=out)
    load_model(model, adapter)  # clear errors before the subprocess
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run([sys.executable, "-m", "mlx_lm", "fuse", "--model", model, "--adapter-path", str(adapter), "--save-path", str(tmp)],
                       capture_output=True, text=True, env=dict(os.environ))
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DistillError(f"mlx_lm fuse failed: {(r.stderr or r.stdout).strip().splitlines()[-1][:300]}")
    if out.exists():
        out.rmdir()
    tmp.replace(out)
    checks = []
    m1, t1 = load_model(model, adapter)
    m2, t2 = load_model(str(out))
    for p in prompts:
        ids = t1.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True)
        a = mlx_lm.generate(m1, t1, prompt=ids, max_tokens=max_tokens)
        b = mlx_lm.generate(m2, t2, prompt=ids, max_tokens=max_tokens)
        checks.append({"prompt": p, "unfused": a, "fused": b, "same": a == b})
    return {"out": str(out), "checks": checks, "all_same": all(c["same"] for c in checks)}
