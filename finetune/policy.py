"""What the mlx-lm-lora methods (DPO, ORPO, GRPO) share: the policy and its reference model, a run folder
that can be resumed from its last checkpoint, mlx-lm-lora's own printing kept off the terminal, and the
settings that make its trainers run on the CPU backend."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from distill.errors import DistillError, WorkFailed
from distill.io import atomic_write_json, atomic_write_jsonl, write_record

from .args import FinetuneArgs
from .callbacks import read_metrics
from .model import adapter_config, load_model
from .records import CheckpointState, FinetuneConfig, read_checkpoint_state

INSTALL_HINT = "pip install 'distill[rl]' (mlx-lm-lora)"


@dataclass
class Policy:
    """The model being trained (LoRA layers on, resumed weights loaded), its frozen reference (None when
    the method needs none), the tokenizer, and where the run resumes from."""

    model: Any
    ref: Any
    tokenizer: Any
    out: Path
    offset: int
    state: CheckpointState | None

    def remaining(self, iters: int) -> int:
        return iters - self.offset


def with_adapter(model, adapter: str | None) -> None:
    """LoRA layers as `adapter` was trained with, its weights loaded; none when no adapter is given."""
    from mlx_lm.tuner import linear_to_lora_layers

    if adapter is None:
        return
    cfg = json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))
    if cfg.get("fine_tune_type", "lora") == "lora":
        linear_to_lora_layers(model, cfg["num_layers"], cfg["lora_parameters"])
    model.load_weights(str(Path(adapter) / "adapters.safetensors"), strict=False)


def resume_state(args: FinetuneArgs, out: Path) -> CheckpointState | None:
    """The checkpoint --resume continues from; a one-line error for a folder that holds a run without it."""
    has_state = (out / "checkpoints" / "state.json").exists()
    if args.resume and not has_state:
        raise DistillError("nothing to resume (no checkpoints/state.json)", path=out)
    if not args.resume and (out / "metrics.jsonl").exists():
        raise DistillError("already holds a run; pass --resume to continue it or choose another --out", path=out)
    return read_checkpoint_state(out) if args.resume else None


def prepare_policy(args: FinetuneArgs, *, needs_ref: bool) -> Policy:
    """Load the policy (base, or base + --adapter) and, when asked, an identical frozen reference; add LoRA
    layers for a fresh adapter, or continue --adapter's own; load the last checkpoint on --resume."""
    import mlx.core as mx
    import numpy as np
    from mlx_lm.tuner import linear_to_lora_layers


    out = Path(args.out)
    state = resume_state(args, out)
    mx.random.seed(args.seed)
    np.random.seed(args.seed)
    model, tok = load_model(args.model)
    ref = load_model(args.model)[0] if needs_ref else None
    for m in (model, ref):
        if m is not None:
            m.freeze()
            with_adapter(m, args.adapter)
    n_layers = len(model.layers)
    num_layers = n_layers if args.num_layers == -1 else min(args.num_layers, n_layers)
    adapter_cfg = json.loads((Path(args.adapter) / "adapter_config.json").read_text()) if args.adapter else None
    kind = adapter_cfg.get("fine_tune_type", "lora") if adapter_cfg else args.fine_tune_type
    if kind == "full":
        model.unfreeze()  # every weight trains (a tiny model's full fine-tuning, or continuing one)
    elif adapter_cfg is None:
        linear_to_lora_layers(model, num_layers, {"rank": args.lora_rank, "scale": args.lora_scale, "dropout": args.lora_dropout})
    else:
        model.unfreeze(keys=["lora_a", "lora_b"], strict=False)  # continue the adapter's own low-rank weights
    offset = state.iteration if state is not None else 0
    if state is not None:
        model.load_weights(str(out / "checkpoints" / "last.safetensors"), strict=False)
        # the resumed run reports everything after the checkpoint again: keep only what came before it
        atomic_write_jsonl(out / "metrics.jsonl", [m for m in read_metrics(out / "metrics.jsonl") if m["iteration"] <= offset])
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "adapter_config.json", adapter_cfg or adapter_config(args, num_layers))
    write_record(out / "finetune_config.json", FinetuneConfig(
        args=args.to_dict(), num_layers_resolved=num_layers, model_layers=n_layers, truncation={}, versions=versions(),
        resumed_from_iteration=offset or None, ranks=1))
    return Policy(model, ref, tok, out, offset, state)


def trainer_import_error(method: str) -> DistillError:
    return DistillError(f"--method {method} trains with mlx-lm-lora: {INSTALL_HINT}")


@contextlib.contextmanager
def quiet_trainer():
    """mlx-lm-lora's trainers print their own progress; ours (or none, with --quiet) replaces it; what they
    raise becomes one line (exit 2 for what they refuse, 1 for a diverged run). Its
    trainers set Metal's wired-memory limit from `mx.device_info()`, which on the CPU backend has no
    `max_recommended_working_set_size`: it reads 0 there (no limit to set), so they run on Linux too."""
    try:
        with cpu_device_info(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    except FloatingPointError as exc:  # the trainer refuses a non-finite update: the run failed, its checkpoints stay
        raise WorkFailed(f"training diverged ({exc}); try a lower --learning-rate, or --resume from the last checkpoint") from None
    except ValueError as exc:  # what mlx-lm-lora rejects in the data or settings (a prompt without a chat template, a batch size)
        raise DistillError(f"mlx-lm-lora refused the run: {str(exc).splitlines()[0][:300]}") from None


@contextlib.contextmanager
def cpu_device_info():
    """mlx-lm-lora's trainers set Metal's wired-memory limit from `mx.device_info()["max_recommended_working_set_size"]`,
    a key the CPU backend does not report (KeyError on Linux): while inside, it reads 0 there (no limit to set)."""
    import mlx.core as mx

    original = mx.device_info
    patched = "max_recommended_working_set_size" not in original()
    if patched:
        mx.device_info = lambda: {**original(), "max_recommended_working_set_size": 0}
    try:
        yield
    finally:
        if patched:
            mx.device_info = original


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in ("mlx", "mlx-lm", "mlx-lm-lora"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out
