"""Fine-tuning benchmark: `python -m mlx_lm lora` (the baseline) against `distill finetune run`
with equal settings on the same tiny Qwen2 and data, each in its own process; wall time,
tokens/s and peak memory (max RSS), and how our cost grows with iterations.

    python bench/finetune.py [--iters 200] [--repeats 2] [--out bench/results/finetune.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import save  # noqa: E402



def timed(cmd: list[str], env: dict) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MB (via a fresh wrapper process) and stdout of `cmd`."""
    wrapper = ("import resource, subprocess, sys, json, time; t=time.perf_counter(); "
               "r=subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(json.dumps({'rc': r.returncode, 'wall': time.perf_counter()-t, "
               "'rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'out': r.stdout, 'err': r.stderr[-2000:]}))")
    r = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env)
    res = json.loads(r.stdout)
    if res["rc"] != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {res['err']}")
    return res["wall"], res["rss_kb"] // 1024, res["out"]


def mlx_lm_tokens_per_s(stdout: str) -> float | None:
    # TrainUI lines: "  iter    loss ▼    tok/s    tokens"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    vals = [float(m.group(1).replace(",", "")) for m in re.finditer(r"^\s+\d+\s+[\d.]+ [▼▲]\s+([\d,]+)\s", plain, re.M)]
    return statistics.mean(vals) if vals else None


def method_steps(d: Path, model: Path, data: Path, env: dict, iters: int = 40) -> dict:
    """One step of each method on the same model, prompts and batch of 4: seconds per iteration, as a ratio to
    SFT's. DPO and ORPO see each SFT answer as `chosen` against another problem's; GRPO samples a group of 4
    completions (32 tokens at most) per prompt and grades them against the key."""
    import random

    from distill.grading.extract import last_boxed

    pairs, prompts = d / "pairs", d / "prompts"
    pairs.mkdir(exist_ok=True)
    prompts.mkdir(exist_ok=True)
    rng = random.Random(0)
    for split in ("train", "valid"):
        rows = [json.loads(line) for line in (data / f"{split}.jsonl").read_text().splitlines()]
        answers = [r["messages"][-1]["content"] for r in rows]
        out, asked = [], []
        for r in rows:  # the same prompts and answers as the SFT data; the rejected answer is another problem's
            system, user, chosen = (m["content"] for m in r["messages"])
            out.append({"system": system, "prompt": user, "chosen": chosen, "rejected": rng.choice([a for a in answers if a != chosen])})
            asked.append({"system": system, "prompt": user, "answer": last_boxed(chosen)})
        (pairs / f"{split}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in out))
        (prompts / f"{split}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in asked))
    per_iter = {}
    extra = {"grpo": ["--group-size", "4", "--max-completion-length", "32"]}
    for method, folder in (("sft", data), ("dpo", pairs), ("orpo", pairs), ("grpo", prompts)):
        out = d / f"method-{method}"
        timed([sys.executable, "-m", "distill.cli", "finetune", "run", "--method", method, "--model", str(model), "--data", str(folder),
               "--out", str(out), "--iters", str(iters), "--batch-size", "4", "--num-layers", "-1", "--steps-per-eval", str(iters),
               "--val-batches", "1", "--learning-rate", "1e-3", "--quiet", *extra.get(method, [])], env)
        per_iter[method] = json.loads((out / "summary.json").read_text())["wall_seconds"] / iters
    res = {"iters": iters, "batch": 4, **{f"{m}_s_per_iter": round(v, 4) for m, v in per_iter.items()}}
    res.update({f"{m}_vs_sft": round(per_iter[m] / per_iter["sft"], 2) for m in ("dpo", "orpo", "grpo")})
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "finetune.json")
    ap.add_argument("--only-methods", action="store_true", help="Only the per-method step comparison (SFT, DPO, ORPO, GRPO).")
    args = ap.parse_args()
    from distill.demo.fixtures import write_chat_splits
    from distill.demo.tiny import build_tiny_qwen2

    env = dict(os.environ, MLX_DISABLE_COMPILE=os.environ.get("MLX_DISABLE_COMPILE", "1"))
    common = dict(batch=4, layers=-1, rank=8, eval_every=20, lr=1e-3, mask_prompt=True)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        model = build_tiny_qwen2(d / "model", layers=4, hidden=128)
        data = write_chat_splits(d / "data", sizes=(("train", 256), ("valid", 32)))
        (d / "lora.yaml").write_text(f"lora_parameters:\n  rank: {common['rank']}\n  scale: 20.0\n  dropout: 0.0\n")
        methods = method_steps(d, model, data, env)
        m = Table(title=f"one step per method: tiny Qwen2 (4 layers), batch 4, {methods['iters']} iterations")
        for c in ("method", "s / iteration", "vs SFT"):
            m.add_column(c)
        m.add_row("sft (baseline)", f"{methods['sft_s_per_iter']:.3f}", "1.00x")
        for name, what in (("dpo", "chosen + rejected, reference model"), ("orpo", "chosen + rejected, no reference"),
                           ("grpo", "group of 4 sampled and graded, reference model")):
            m.add_row(f"{name} ({what})", f"{methods[f'{name}_s_per_iter']:.3f}", f"{methods[f'{name}_vs_sft']:.2f}x")
        Console().print(m)
        if args.only_methods:
            save(args.out.with_name("finetune_methods.json"), methods)
            return 0

        def baseline(iters: int, out: Path):
            return [sys.executable, "-m", "mlx_lm", "lora", "--model", str(model), "--train", "--data", str(data), "--iters", str(iters),
                    "--batch-size", str(common["batch"]), "--num-layers", str(common["layers"]), "--steps-per-eval", str(common["eval_every"]),
                    "--val-batches", "-1", "--learning-rate", str(common["lr"]), "--adapter-path", str(out), "-c", str(d / "lora.yaml"),
                    "--steps-per-report", "10", "--save-every", "50", "--mask-prompt"]

        def ours(iters: int, out: Path):
            return [sys.executable, "-m", "distill.cli", "finetune", "run", "--model", str(model), "--data", str(data), "--out", str(out),
                    "--iters", str(iters), "--batch-size", str(common["batch"]), "--num-layers", str(common["layers"]),
                    "--lora-rank", str(common["rank"]), "--steps-per-eval", str(common["eval_every"]), "--val-batches", "-1",
                    "--learning-rate", str(common["lr"]), "--steps-per-report", "10", "--save-every", "50", "--mask-prompt", "--quiet"]

        rows = {"mlx_lm lora (baseline)": [], "distill finetune run": []}
        for rep in range(args.repeats):  # interleaved, so drift on a noisy machine hits both
            for name, build in (("mlx_lm lora (baseline)", baseline), ("distill finetune run", ours)):
                out = d / f"{name.split()[0]}-{rep}"
                wall, rss, stdout = timed(build(args.iters, out), env)
                if name.startswith("distill"):
                    tps = json.loads((out / "summary.json").read_text())["tokens_per_second"]
                else:
                    tps = mlx_lm_tokens_per_s(stdout)
                rows[name].append({"wall_s": wall, "tokens_per_s": tps, "peak_rss_mb": rss})
        growth = []
        for iters in (50, 100, 200):
            wall, rss, _ = timed(ours(iters, d / f"growth-{iters}"), env)
            s = json.loads((d / f"growth-{iters}" / "summary.json").read_text())
            growth.append({"iters": iters, "wall_s": round(wall, 2), "train_s": s["wall_seconds"], "tokens_per_s": s["tokens_per_second"],
                           "val_points": len([1 for line in (d / f"growth-{iters}" / "metrics.jsonl").read_text().splitlines() if '"val"' in line])})

    summ = {k: {"wall_s": round(statistics.median(r["wall_s"] for r in v), 3),
                "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in v if r["tokens_per_s"]), 1),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in v)} for k, v in rows.items()}
    base, mine = summ["mlx_lm lora (baseline)"], summ["distill finetune run"]
    result = {"iters": args.iters, "repeats": args.repeats, "settings": common, "runs": rows, "median": summ,
              "wall_overhead": round(mine["wall_s"] / base["wall_s"] - 1, 4), "tokens_per_s_ratio": round(mine["tokens_per_s"] / base["tokens_per_s"], 3),
              "growth": growth, "methods": methods}
    t = Table(title=f"LoRA, tiny Qwen2 (4 layers), {args.iters} iterations, median of {args.repeats}")
    for c in ("runner", "wall s", "tokens/s", "peak RSS MB", "vs baseline"):
        t.add_column(c)
    t.add_row("mlx_lm lora (baseline)", f"{base['wall_s']:.2f}", f"{base['tokens_per_s']:.0f}", str(base["peak_rss_mb"]), "1.00x")
    t.add_row("distill finetune run", f"{mine['wall_s']:.2f}", f"{mine['tokens_per_s']:.0f}", str(mine["peak_rss_mb"]), f"{mine['wall_s'] / base['wall_s']:.2f}x wall")
    Console().print(t)
    g = Table(title="distill finetune run: cost against iterations")
    for c in ("iters", "wall s", "train s", "tokens/s", "val points"):
        g.add_column(c)
    for row in growth:
        g.add_row(str(row["iters"]), f"{row['wall_s']:.2f}", f"{row['train_s']:.2f}", f"{row['tokens_per_s']:.0f}", str(row["val_points"]))
    Console().print(g)
    save(args.out, result)
    print(f"wall overhead {result['wall_overhead']:+.1%}, tokens/s ratio {result['tokens_per_s_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
