"""Data-parallel LoRA with MLX's own launcher: `mlx.launch` starts one worker per rank (local
processes with --launch N, or the machines of a hosts file over the ring backend). mlx-lm's trainer
already averages gradients and all-reduces losses; rank 0 alone writes the outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from distill.errors import DistillError, WorkFailed

from .args import FinetuneArgs
from .records import read_finetune_summary


def launch_command(args: FinetuneArgs, launcher: str, *, ranks: int | None = None, hostfile: Path | None = None,
                   backend: str = "ring") -> list[str]:
    """The `mlx.launch` command line: every setting travels in it as JSON, so a rank on another host
    needs nothing local to this one (only what every host shares: the Python environment at the same
    path, and the model, data and output paths named in the settings)."""
    where = ["--hostfile", str(hostfile)] if hostfile else ["-n", str(ranks or 2)]
    return [launcher, "--backend", backend, *where, "--", sys.executable, "-m", "distill.finetune.worker",
            json.dumps(args.model_dump(), separators=(",", ":"))]


def launch(args: FinetuneArgs, *, ranks: int | None = None, hostfile: Path | None = None, backend: str = "ring") -> dict[str, Any]:
    """Run the fine-tuning on several ranks and return rank 0's summary."""
    launcher = shutil.which("mlx.launch", path=str(Path(sys.executable).parent)) or shutil.which("mlx.launch")
    if launcher is None:
        raise DistillError("mlx.launch not found (it comes with mlx); reinstall distill")
    if hostfile is not None and not hostfile.exists():
        raise DistillError("hosts file not found", path=hostfile)
    args.validate_paths()
    r = subprocess.run(launch_command(args, launcher, ranks=ranks, hostfile=hostfile, backend=backend), capture_output=True, text=True)
    summary_path = Path(args.out) / "summary.json"
    if r.returncode != 0 or not summary_path.exists():
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WorkFailed(f"distributed fine-tuning failed (exit {r.returncode}): {tail[0][:300]}")
    return read_finetune_summary(Path(args.out)).model_dump(mode="json")
