"""Plan benchmark: the memory estimate against MLX's measured peak over the sweep of tiny Qwen2 models, the
probed time estimate against the measured wall time of a fine-tune and an evaluation, and the 7B student's
plan on paper (the README's table).

    python bench/plan.py [--quick] [--out bench/results/plan.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from common import RESULTS, save  # noqa: E402

QWEN7B = ROOT / "tests" / "fixtures" / "qwen2.5-7b-instruct-4bit"


def sweep(root: Path, quick: bool) -> list[dict]:
    from tests.plan_sweep import cases, run_case, test_cases

    return [run_case(root, c) for c in (test_cases() if quick else cases())]


def timing(root: Path) -> list[dict]:
    """Probed estimate against the real run's wall time (the baseline is the measurement itself)."""
    from distill.demo.fixtures import write_chat_splits
    from distill.demo.tiny import build_tiny_qwen2
    from distill.evaluation.backends import Sampling
    from distill.evaluation.plan import plan_evaluation
    from distill.evaluation.service import EvalRequest, ModelSpec
    from distill.finetune.args import FinetuneArgs
    from distill.finetune.plan import plan_finetune
    from distill.finetune.run import run_finetune
    from distill.problems.importers import import_paths
    from distill.demo.samples import sample_files

    model = build_tiny_qwen2(root / "model", layers=4, hidden=128)
    data = write_chat_splits(root / "data")
    out = []
    args = FinetuneArgs(model=str(model), data=str(data), out=str(root / "ft"), iters=120, batch_size=4, steps_per_eval=40, val_batches=4,
                        fine_tune_type="full", learning_rate=1e-4)
    plan = plan_finetune(args, probe=True)
    t0 = time.perf_counter()
    run_finetune(args)
    wall = time.perf_counter() - t0
    out.append({"step": "finetune 120 iterations", "estimate_s": plan.time_s, "measured_s": wall, "ratio": plan.time_s / wall})
    from distill.config import load_settings
    from distill.corpus.service import open_grader  # noqa: F401  (the run grades too; its time is part of the wall)
    from distill.evaluation.service import evaluate_stage
    from distill.workspace import Workspace

    problems = import_paths(sample_files(), None)[:24]
    req = EvalRequest(problems, root / "eval", ModelSpec(model=str(model)), Sampling(0.0, 1.0, 96), runs=2, batch_size=8, judge=False)
    settings = load_settings()
    plan = plan_evaluation(req, settings, probe=True)
    t0 = time.perf_counter()
    evaluate_stage(Workspace(root / "ws").ensure(), settings, req)
    wall = time.perf_counter() - t0
    out.append({"step": "eval 24 problems x 2 runs", "estimate_s": plan.time_s, "measured_s": wall, "ratio": plan.time_s / wall})
    return out


def seven_b() -> list[dict]:
    """The student on paper: LoRA rank 8 on 16 of 28 blocks, at the R1 export's length and trace lengths."""
    from dataclasses import replace

    from distill.finetune.plan import cheapest_fit
    from distill.plan.machine import human
    from distill.plan.memory import ModelShape, TrainingSetting, training_memory

    shape = ModelShape.read(QWEN7B)
    rows = []
    for seq in (1024, 8192, 16384):
        s = TrainingSetting(batch=4, seq=seq, num_layers=16)
        mem = training_memory(shape, s)
        fits = {}
        for gb in (16, 32, 64):
            limit = gb * 10**9
            fits[f"{gb} GB"] = "as is" if mem["peak"] <= limit else (cheapest_fit(shape, s, limit, None, 1 << 20) or "does not fit")
        gc = training_memory(shape, replace(s, grad_checkpoint=True))["peak"]
        b1gc = training_memory(shape, replace(s, batch=1, grad_checkpoint=True))["peak"]
        rows.append({"seq": seq, "peak": human(mem["peak"]), "peak_grad_checkpoint": human(gc), "peak_batch1_grad_checkpoint": human(b1gc),
                     "weights": human(mem["weights"]), "activations": human(mem["activations"]), "logits": human(mem["logits"]), **fits})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="The slow tier's 8 cases instead of the full sweep.")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-sweep", action="store_true", help="Only the time check and the 7B table.")
    ap.add_argument("--out", type=Path, default=RESULTS / "plan.json")
    a = ap.parse_args()
    os.environ.setdefault("MLX_DISABLE_COMPILE", "1")
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [] if a.no_sweep else sweep(Path(tmp), a.quick)
        times = [] if a.no_timing else timing(Path(tmp) / "timing")
    t = Table("case", "estimate MB", "measured MB", "estimate / measured", title="peak memory: estimate vs mx.get_peak_memory()")
    for r in rows:
        t.add_row(r["case"], f"{r['estimate'] / 1e6:.1f}", f"{r['measured'] / 1e6:.1f}", f"{r['ratio']:.3f}")
    console.print(t)
    ratios = [r["ratio"] for r in rows] or [float("nan")]
    console.print(f"{len(rows)} cases: ratio {min(ratios):.3f} .. {max(ratios):.3f}; within 25%: {sum(0.75 <= x <= 1.25 for x in ratios)}/{len(rows)}")
    if times:
        t = Table("step", "estimate s", "measured s", "ratio", title="time: --plan --probe vs the run's wall time")
        for r in times:
            t.add_row(r["step"], f"{r['estimate_s']:.1f}", f"{r['measured_s']:.1f}", f"{r['ratio']:.2f}")
        console.print(t)
    big = seven_b()
    t = Table("sequence", "peak", "+ grad ckpt", "batch 1 + ckpt", "16 GB", "32 GB", "64 GB", title="Qwen2.5-7B-Instruct-4bit, LoRA r8 x 16 blocks, batch 4")
    for r in big:
        t.add_row(str(r["seq"]), r["peak"], r["peak_grad_checkpoint"], r["peak_batch1_grad_checkpoint"], r["16 GB"], r["32 GB"], r["64 GB"])
    console.print(t)
    save(a.out, {"sweep": rows, "worst_low": min(ratios), "worst_high": max(ratios), "timing": times, "qwen7b": big})


if __name__ == "__main__":
    main()
