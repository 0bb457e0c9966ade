"""What every training method shares: loading a model (with an adapter) and the adapter's config.
Supervised (run.py), preference (preference.py) and RL (grpo.py, through policy.py) training import it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.errors import DistillError

from .args import FinetuneArgs


def load_model(model: str, adapter: str | Path | None = None):
    """mlx_lm.load with a one-line error for a path or id that does not resolve."""
    import mlx_lm

    p = Path(model).expanduser()
    looks_local = p.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1
    if looks_local and not (p / "config.json").exists():
        raise DistillError("not a model folder (no config.json)" if p.exists() else "model path not found", path=model)
    if adapter is not None and not (Path(adapter) / "adapter_config.json").exists():
        raise DistillError("not an adapter folder (no adapter_config.json)", path=adapter)
    try:
        return mlx_lm.load(str(p) if looks_local else model, adapter_path=str(adapter) if adapter else None)
    except DistillError:
        raise
    except Exception as exc:
        raise DistillError(f"cannot load model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})", path=model) from None


def adapter_config(args: FinetuneArgs, num_layers: int) -> dict[str, Any]:
    return {
        "fine_tune_type": args.fine_tune_type,
        "num_layers": num_layers,
        "lora_parameters": {"rank": args.lora_rank, "scale": args.lora_scale, "dropout": args.lora_dropout},
        "model": args.model,
    }


def adapter_export(adapter: str | Path | None):
    """The export manifest an adapter was trained on (its finetune_config.json names the data folder), or None
    when that cannot be read (no adapter, an adapter from elsewhere, a moved or deleted export)."""
    if adapter is None:
        return None
    import json

    from distill.corpus.manifest import ExportManifest

    try:
        data = json.loads((Path(adapter) / "finetune_config.json").read_text(encoding="utf-8"))["args"]["data"]
        return ExportManifest.read(Path(data) / "manifest.json")
    except (OSError, KeyError, TypeError, ValueError, DistillError):
        return None


__all__ = ["adapter_config", "adapter_export", "load_model"]
