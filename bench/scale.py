"""Scale benchmark: the corpus commands on synthetic problem sets of growing size, each command a fresh
process (start-up included) with its wall time and peak RSS, against an OpenAI-compatible loopback
teacher in its own process answering after a fixed delay. Rows per size: `corpus run` (with calls/s
against the named baseline, a bare asyncio client making the same calls at the same concurrency),
the cached rerun, `corpus status`, `transcripts list --json`, `corpus export`, `corpus decontaminate`,
`transcripts html` on 1 core and on every core (medians of interleaved repeats), and the incremental
site rebuild after 1% new transcripts. Then the decontamination index alone at 100k training x 10k evaluation problems.

    python bench/scale.py [--sizes 1000,5000] [--delay 0.05] [--concurrency 64] [--out bench/results/scale.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import ServerProcess, byte_compile, save  # noqa: E402
from corpus import bare_client, responder  # noqa: E402

DISTILL = str(Path(sys.executable).parent / "distill")
WORDS = "apples pears boxes marbles coins tiles cards beads pens books stamps shells".split()


def problem_rows(start: int, n: int, seed: int = 0) -> list[dict]:
    """Generic-JSONL problems with computable answers, over 20 years, each with its own wording (so the
    8-gram index is not one giant bucket)."""
    rng = random.Random(seed + start)
    rows = []
    for i in range(start, start + n):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        w = rng.sample(WORDS, 4)
        rows.append({"id": f"scale-{i:06d}", "year": 2001 + i % 20, "answer": str(a + b),
                     "text": f"Ana has {a} {w[0]} and {w[1]}; Ben brings {w[2]} and {w[3]}, problem {i}. What is {a} + {b}?"})
    return rows


def timed(cmd: list[str], env: dict) -> dict:
    """Wall seconds and peak RSS (MB) of `cmd` in a fresh wrapper process; stdout goes to a file, not to memory."""
    wrapper = ("import resource, subprocess, sys, json, time, tempfile; t=time.perf_counter(); "
               "f=tempfile.TemporaryFile(); r=subprocess.run(sys.argv[1:], stdout=f, stderr=subprocess.PIPE, text=True); "
               "f.seek(0); out=f.read(2_000_000).decode(); "
               "print(json.dumps({'rc': r.returncode, 'wall': time.perf_counter()-t, "
               "'rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'out': out if len(out) < 1_000_000 else '', "
               "'err': r.stderr[-2000:]}))")
    r = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env)
    res = json.loads(r.stdout)
    if res["rc"] not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[1:4])} failed ({res['rc']}): {res['err']}")
    return {"wall_s": round(res["wall"], 3), "rss_mb": res["rss_kb"] // 1024, "out": res["out"]}


def workspace(d: Path, base_url: str) -> dict:
    env = {**os.environ, "DISTILL_WORKSPACE": str(d / "ws")}
    for role, model in (("SOLVER", "bench-r1"), ("VERIFIER", "bench-chat")):
        env.update({f"DISTILL_{role}__BASE_URL": base_url, f"DISTILL_{role}__MODEL": model, f"DISTILL_{role}__API_KEY_ENV": "",
                    f"DISTILL_{role}__MAX_RETRIES": "0"})
    env["DISTILL_SOLVER__FAMILY"] = "r1"
    return env


def import_rows(env: dict, d: Path, rows: list[dict], name: str) -> None:
    path = d / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    subprocess.run([DISTILL, "problems", "import", str(path), "--source", "scale"], env=env, check=True, capture_output=True)


def site_builds(env: dict, d: Path, jobs: int, repeats: int) -> tuple[dict, dict]:
    """Full site builds on one core and on `jobs` cores, `repeats` interleaved pairs (each into a fresh
    folder): the median of each, so a noisy neighbour slows both sides alike."""
    import shutil
    import statistics

    runs: dict[int, list[dict]] = {1: [], jobs: []}
    for r in range(repeats):
        for j in (1, jobs):
            out = d / f"site{j}"
            shutil.rmtree(out, ignore_errors=True)
            runs[j].append(timed([DISTILL, "transcripts", "html", "--out", str(out), "--jobs", str(j)], env))
    def median(rs: list[dict]) -> dict:
        return {"wall_s": round(statistics.median(x["wall_s"] for x in rs), 3), "rss_mb": max(x["rss_mb"] for x in rs),
                "runs_s": [x["wall_s"] for x in rs]}
    return median(runs[1]), median(runs[jobs])


def one_size(n: int, base_url: str, concurrency: int, jobs: int, repeats: int = 1) -> dict:
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        env = workspace(d, base_url)
        import_rows(env, d, problem_rows(0, n), "problems")
        run = ["corpus", "run", "--source", "scale", "--concurrency", str(concurrency), "--json", "--quiet"]
        calls = min(2 * n, 20_000)  # a rate: enough calls to be steady, no need to repeat all of the run's
        before = asyncio.run(bare_client(base_url, calls, concurrency))
        r = timed([DISTILL, *run], env)
        summary = json.loads(r["out"])
        rows["corpus run"] = {**r, "calls": summary["model_calls"], "calls_per_s": round(summary["model_calls"] / r["wall_s"], 1),
                              "disk_mb": round(sum(f.stat().st_size for f in (d / "ws").rglob("*") if f.is_file()) / 2**20, 1)}
        after = asyncio.run(bare_client(base_url, calls, concurrency))
        # the baseline runs just before and just after the command: a noisy neighbour during either shows as a gap
        rows["bare client (baseline)"] = {"wall_s": round((before + after) / 2 * summary["model_calls"] / calls, 3), "rss_mb": None,
                                          "calls": summary["model_calls"], "calls_per_s": round(2 * calls / (before + after), 1),
                                          "calls_per_s_before_after": [round(calls / before, 1), round(calls / after, 1)]}
        rows["cached rerun"] = timed([DISTILL, *run], env)
        rows["corpus status"] = timed([DISTILL, "corpus", "status", "--json"], env)
        rows["transcripts list --json"] = timed([DISTILL, "transcripts", "list", "--json"], env)
        rows["corpus export"] = timed([DISTILL, "corpus", "export", "--out", str(d / "export"), "--source", "scale",
                                       "--valid-years", "2019", "--test-years", "2020"], env)
        rows["corpus decontaminate"] = timed([DISTILL, "corpus", "decontaminate", "--source", "scale", "--valid-years", "2019",
                                              "--test-years", "2020", "--json"], env)
        one, every = site_builds(env, d, jobs, repeats)
        rows["transcripts html (1 core)"], rows[f"transcripts html ({jobs} cores)"] = one, every
        extra = max(1, n // 100)
        import_rows(env, d, problem_rows(n, extra), "more")
        timed([DISTILL, *run], env)
        rows["transcripts html, +1% transcripts"] = timed([DISTILL, "transcripts", "html", "--out", str(d / f"site{jobs}"), "--jobs", str(jobs)], env)
    for r in rows.values():
        r.pop("out", None)
        r["ms_per_problem"] = round(1000 * r["wall_s"] / n, 3)
    return {"problems": n, "commands": rows}


def decontamination_at_scale(n_train: int, n_eval: int) -> dict:
    """The 8-gram index alone (in this process): seconds and the growth of peak RSS."""
    import resource

    from distill.corpus.decontaminate import find_contamination
    from distill.problems.schema import Problem

    def problems(start, n):
        return [Problem(id=r["id"], source="scale", text=r["text"], answer=r["answer"]) for r in problem_rows(start, n, seed=7)]

    evaluation = problems(0, n_eval)
    planted = [p.model_copy(update={"id": f"copy-{p.id}"}) for p in evaluation[:: max(1, n_eval // 50)]]  # 50 copies under new ids
    train = problems(n_eval, n_train) + planted
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    found = find_contamination(train, evaluation)
    wall = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
    return {"train": len(train), "evaluation": n_eval, "seconds": round(wall, 2), "flagged": len(found), "rss_growth_mb": grown}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000", help="Problem-set sizes, comma-separated (the ratios compare the last with the first).")
    ap.add_argument("--delay", type=float, default=0.05, help="Seconds the loopback teacher takes per call.")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Cores for the site build.")
    ap.add_argument("--site-repeats", type=int, default=3, help="Interleaved 1-core / all-core site builds per size (medians).")
    ap.add_argument("--decontam", default="100000x10000", help="TRAINxEVAL problems for the decontamination row ('' to skip).")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    args = ap.parse_args()
    byte_compile()
    sizes = [int(s) for s in args.sizes.split(",")]
    result: dict = {"delay_s": args.delay, "concurrency": args.concurrency, "jobs": args.jobs, "sizes": []}
    with ServerProcess(responder, args.delay) as srv:
        asyncio.run(bare_client(srv.base_url, 64, args.concurrency))  # warm-up
        for n in sizes:
            result["sizes"].append(one_size(n, srv.base_url, args.concurrency, args.jobs, args.site_repeats))
            Console().print(f"[dim]{n} problems done[/]")
    cmds = list(result["sizes"][0]["commands"])
    t = Table(title=f"scale: {args.delay * 1000:.0f} ms per teacher call, concurrency {args.concurrency}; wall s / peak RSS MB per size")
    t.add_column("command")
    for s in result["sizes"]:
        t.add_column(f"{s['problems']:,}")
    t.add_column(f"RSS {sizes[-1] // 1000}k/{sizes[0] // 1000}k")
    t.add_column(f"time per problem {sizes[-1] // 1000}k/{sizes[0] // 1000}k")
    ratios: dict = {}
    for c in cmds:
        cells = []
        for s in result["sizes"]:
            r = s["commands"][c]
            extra = (f", {r['calls_per_s']:.0f} calls/s" if "calls_per_s" in r else "") + (f", {r['disk_mb']:.0f} MB on disk" if "disk_mb" in r else "")
            cells.append(f"{r['wall_s']:.2f} s / {r['rss_mb'] if r['rss_mb'] is not None else '–'} MB{extra}")
        first, last = result["sizes"][0]["commands"][c], result["sizes"][-1]["commands"][c]
        mem = round(last["rss_mb"] / first["rss_mb"], 2) if first.get("rss_mb") else None
        per = round(last["ms_per_problem"] / first["ms_per_problem"], 2) if first["ms_per_problem"] else None
        ratios[c] = {"rss": mem, "time_per_problem": per}
        t.add_row(c, *cells, "–" if mem is None else f"{mem:.2f}x", "–" if per is None else f"{per:.2f}x")
    Console().print(t)
    last = result["sizes"][-1]["commands"]
    headline = {
        "corpus_calls_per_s_vs_bare": round(last["corpus run"]["calls_per_s"] / last["bare client (baseline)"]["calls_per_s"], 3),
        "site_speedup_all_cores": round(last["transcripts html (1 core)"]["wall_s"] / last[f"transcripts html ({args.jobs} cores)"]["wall_s"], 2),
        "site_incremental_vs_full": round(last["transcripts html, +1% transcripts"]["wall_s"] / last[f"transcripts html ({args.jobs} cores)"]["wall_s"], 3),
    }
    result.update(ratios=ratios, headline=headline)
    if args.decontam:
        a, b = (int(x) for x in args.decontam.split("x"))
        result["decontamination"] = dec = decontamination_at_scale(a, b)
        print(f"decontamination index: {dec['train']:,} training x {dec['evaluation']:,} evaluation problems in {dec['seconds']:.1f} s, "
              f"+{dec['rss_growth_mb']} MB peak, {dec['flagged']} flagged")
    for k, v in headline.items():
        print(f"{k}: {v}")
    save(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
