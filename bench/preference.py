"""Preference-training benchmark: DPO and ORPO on the tiny Qwen2, trained on pairs exported from the
demo's drill years run by the recorded teacher (it slips on about one drill in seven, then corrects
itself: `rounds` pairs), in each pair form (`solver`, `formatted`), against the baseline of pairs that differ in
form (the accepted Formatter rewrite over the Solver's raw wrong reply, what the exports wrote before
issue 30). Held-out preference accuracy (chosen scored above rejected) and margin, before training and
at the kept adapter. Style-differing pairs can be separated by form alone; matched pairs only by what
they say, and here also by length: the recorded teacher's wrong attempt is one step long, its right one
several, so a tiny random model separates even matched pairs. The table shows the plumbing and the
forms, not that preference training teaches correctness.

    python bench/preference.py [--iters 30] [--out bench/results/preference.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import RESULTS, save  # noqa: E402


def distill(env: dict, *args: str) -> str:
    r = subprocess.run([str(Path(sys.executable).parent / "distill"), *args], capture_output=True, text=True, env=env)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"distill {' '.join(args[:3])} failed ({r.returncode}): {r.stderr[-1500:]}")
    return r.stdout


def mismatched(matched: Path, out: Path, formatted: Path) -> Path:
    """The baseline: each solver-form pair's chosen side replaced by the accepted stepwise rewrite of the
    same problem (from the formatted export), so chosen and rejected differ in form."""
    rewrite = {}
    for split in ("train", "valid"):
        for line in (formatted / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            rewrite.setdefault(row["prompt"], row["chosen"])
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid"):
        rows = [json.loads(x) for x in (matched / f"{split}.jsonl").read_text().splitlines()]
        rows = [{**r, "chosen": rewrite[r["prompt"]]} for r in rows if r["prompt"] in rewrite]
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--samples", type=int, default=2, help="Solver samples per drill")
    ap.add_argument("--out", type=Path, default=RESULTS / "preference.json")
    a = ap.parse_args()

    from distill.demo.loopback import LoopbackServer
    from distill.demo.recorded_teacher import RecordedTeacher, role_settings
    from distill.demo.drills import YEARS, write_drills
    from distill.corpus.preference import text_form
    from distill.demo.tiny import build_tiny_qwen2

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "DISTILL_WORKSPACE": str(tmp_path / "ws"), "MLX_DISABLE_COMPILE": "1"}
        model = build_tiny_qwen2(tmp_path / "model")
        distill(env, "problems", "import", "--source", "drills", *map(str, write_drills(tmp_path / "drills")))
        train, valid = YEARS["train"], YEARS["valid"]
        years = f"{train[0]}-{valid[0]}"  # the drill years trained and validated on; the test year is never run
        with LoopbackServer(RecordedTeacher()) as srv:
            for role, values in role_settings(srv.base_url).items():
                for k, v in values.items():
                    env[f"DISTILL_{role.upper()}__{k.upper()}"] = v
            distill(env, "corpus", "run", "--years", years, "--samples", str(a.samples), "--quiet")
            distill(env, "corpus", "rewrite-wrong", "--years", years, "--quiet")
        sets = {}
        for form in ("solver", "formatted"):
            folder = tmp_path / f"pairs-{form}"
            distill(env, "corpus", "export", "--out", str(folder), "--format", "dpo", "--pair-form", form, "--source", "drills",
                    "--valid-years", str(valid[0]), "--test-years", str(YEARS["test"][0]))
            sets[form] = folder
        sets = {"differ in form (baseline)": mismatched(sets["solver"], tmp_path / "pairs-mixed", sets["formatted"]), **sets}
        rows = []
        for name, folder in sets.items():
            pairs = [json.loads(x) for s in ("train", "valid") for x in (folder / f"{s}.jsonl").read_text().splitlines()]
            n = {s: len((folder / f"{s}.jsonl").read_text().splitlines()) for s in ("train", "valid")}
            differ = sum(text_form(p["chosen"]) != text_form(p["rejected"]) for p in pairs)
            for method in ("dpo", "orpo"):
                s = json.loads(distill(env, "finetune", "run", "--method", method, "--model", str(model), "--data", str(folder),
                                       "--out", str(tmp_path / f"{method}-{name[:6]}"), "--iters", str(a.iters), "--batch-size", "4",
                                       "--steps-per-eval", "10", "--learning-rate", "5e-3", "--beta", "0.1", "--num-layers", "-1",
                                       "--json", "--quiet"))
                rows.append({"pairs": name, "method": method, "train": n["train"], "valid": n["valid"], "differ_in_form": differ,
                             **s["preference"]})
    t = Table("pairs", "method", "train/valid", "differ in form", "accuracy before", "accuracy best", "margin before", "margin best",
              title=f"held-out preference, tiny Qwen2, {a.iters} iterations")

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    for r in rows:
        t.add_row(r["pairs"], r["method"], f"{r['train']}/{r['valid']}", f"{r['differ_in_form']}/{r['train'] + r['valid']}", f(r["accuracy_before"]), f(r["accuracy_best"]),
                  f(r["margin_before"]), f(r["margin_best"]))
    Console().print(t)
    save(a.out, {"iters": a.iters, "rows": rows})


if __name__ == "__main__":
    main()
