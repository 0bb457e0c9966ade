"""Corpus benchmark against a loopback server that answers each call after a fixed delay.

First, the whole `distill corpus run` command (a fresh process, start-up included; 650 problems,
concurrency 32) against the named baseline, a bare asyncio OpenAI client making the same number of
calls at the same concurrency against the same server, in interleaved pairs; the median ratio counts.
Twice: against the server #13 specified the target on (Python's http.server defaults, where Nagle's
algorithm and the client's delayed ACK add ~40 ms to every response, so the bare client sits ~1.25x
above calls x delay / concurrency), then with TCP_NODELAY (as uvicorn/vLLM answer), where the
bare client is ~1.07x above ideal and the command's fixed start-up and per-call CPU weigh more.
Then, in-process: wall time at concurrency 1 and 8 against the ideal (calls x delay / concurrency),
the cached rerun per problem, and tokens per accepted sample.

    python bench/corpus.py [--delay 0.2] [--repeats 5] [--only-command] [--out bench/results/corpus.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distill.agents.clients import build_client, open_cache
from distill.agents.team import Templates
from distill.corpus.runner import run_corpus
from distill.corpus.transcripts import TranscriptStore
from distill.demo.loopback import Reply, last_user_text
from distill.grading.pool import Grader
from distill.problems.schema import Problem
from rich.console import Console
from rich.table import Table

from distill.config import ModelRole

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import ServerProcess, byte_compile, save  # noqa: E402

DISTILL = str(Path(sys.executable).parent / "distill")


def make_problems(n: int) -> list[Problem]:
    return [Problem(id=f"bench-2001-fs-{i:02d}", source="bench", year=2001, section="fs", number=i,
                    text=f"What is {i} + {i + 7}?", answer=str(2 * i + 7)) for i in range(1, n + 1)]


def responder(delay: float):
    def reply(body):
        user = last_user_text(body)
        a, b = (int(x) for x in re.search(r"What is (\d+) \+ (\d+)", json.dumps(body["messages"])).groups())
        if body.get("model") == "bench-chat":  # the verifier role's model
            content = f"Step 1: Add {a} and {b}.\nStep 2: {a} + {b} = {a + b}.\nFinal answer: \\boxed{{{a + b}}}"
        else:
            content = f"Adding, {a} + {b} = {a + b}. The answer is \\boxed{{{a + b}}}."
        return Reply(content=content, reasoning="Simple addition." if "rewrite" not in user else None, delay_s=delay)
    return reply


async def one_run(problems, base_url, workdir: Path, concurrency: int, grader: Grader, fresh_store: bool = True):
    role_s = ModelRole(base_url=base_url, model="bench-r1", api_key_env=None, family="r1", max_retries=0)
    role_v = ModelRole(base_url=base_url, model="bench-chat", api_key_env=None, max_retries=0)
    cache = open_cache(workdir / "cache")
    store = TranscriptStore(workdir / ("transcripts" if not fresh_store else f"transcripts-{time.monotonic_ns()}"))
    solver, fmt = build_client(role_s, cache), build_client(role_v, cache)
    t0 = time.perf_counter()
    try:
        summary = await run_corpus(problems, store=store, grader=grader, solver_client=solver, formatter_client=fmt, solver_role=role_s,
                                   verifier_role=role_v, templates=Templates.load(), concurrency=concurrency)
        wall = time.perf_counter() - t0
    finally:  # an unclosed client's sockets, collected while the loop runs on, can leave a later request unheard
        await solver.close()
        await fmt.close()
    tokens = sum(t.usage.total for t in store.all() if t.status == "accepted")
    return summary, wall, tokens


async def bare_client(base_url: str, calls: int, concurrency: int) -> float:
    """The floor: a bare asyncio OpenAI client making `calls` chat calls at `concurrency` (wall seconds)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await client.chat.completions.create(model="bench-r1", messages=[{"role": "user", "content": f"What is {i} + {i + 7}?"}])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    wall = time.perf_counter() - t0
    await client.close()
    return wall


def _command_env(base_url: str, d: Path, n: int) -> dict:
    import os

    data = d / "bench.jsonl"
    data.write_text("".join(json.dumps({"id": p.id, "text": p.text, "answer": p.answer, "year": 2001}) + "\n" for p in make_problems(n)))
    env = {**os.environ, "DISTILL_WORKSPACE": str(d / "ws")}
    for role, model in (("SOLVER", "bench-r1"), ("VERIFIER", "bench-chat")):
        env.update({f"DISTILL_{role}__BASE_URL": base_url, f"DISTILL_{role}__MODEL": model, f"DISTILL_{role}__API_KEY_ENV": "",
                    f"DISTILL_{role}__MAX_RETRIES": "0"})
    env["DISTILL_SOLVER__FAMILY"] = "r1"
    subprocess.run([DISTILL, "problems", "import", str(data), "--source", "bench"], env=env, check=True, capture_output=True)
    return env


def one_command(base_url: str, n: int, concurrency: int) -> dict:
    """One fresh `distill corpus run` in a fresh workspace: wall seconds, and the part spent inside the run loop."""
    with tempfile.TemporaryDirectory() as d:
        env = _command_env(base_url, Path(d), n)
        t0 = time.perf_counter()
        r = subprocess.run([DISTILL, "corpus", "run", "--source", "bench", "--concurrency", str(concurrency), "--json", "--quiet"],
                           env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"distill corpus run failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    summary = json.loads(r.stdout)
    return {"wall_s": wall, "loop_s": summary["seconds"], "calls": summary["model_calls"], "accepted": summary["accepted"]}


def command_vs_bare(base_url: str, n: int, concurrency: int, repeats: int, delay: float) -> dict:
    """`distill corpus run` as a user runs it (a fresh process, start-up included) against the bare client, in
    `repeats` interleaved pairs (the order alternates, so drift on a noisy machine hits both); the median ratio counts."""
    byte_compile()
    rounds = []
    for i in range(repeats):
        order = ("command", "bare") if i % 2 == 0 else ("bare", "command")
        row: dict = {}
        for what in order:
            if what == "command":
                row.update(one_command(base_url, n, concurrency))
            else:
                row["bare_s"] = asyncio.run(bare_client(base_url, row.get("calls") or 2 * n, concurrency))
        row["ratio"] = row["wall_s"] / row["bare_s"]
        row["startup_exit_s"] = row["wall_s"] - row["loop_s"]
        rounds.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    ratios = [r["ratio"] for r in rounds]
    med = statistics.median(ratios)
    pick = min(rounds, key=lambda r: abs(r["ratio"] - med))
    return {"problems": n, "concurrency": concurrency, "calls": pick["calls"], "accepted": pick["accepted"], "repeats": repeats,
            "command_s": pick["wall_s"], "loop_s": pick["loop_s"], "startup_exit_s": pick["startup_exit_s"], "bare_client_s": pick["bare_s"],
            "ratio": round(med, 3), "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
            "ideal_s": round(pick["calls"] * delay / concurrency, 3), "rounds": rounds}


async def main_async(args) -> dict:
    problems = make_problems(args.problems)
    rows = []
    with ServerProcess(responder, args.delay) as srv, Grader(workers=2) as grader:
        with tempfile.TemporaryDirectory() as d:  # warm-up: imports, connections, grading workers
            await one_run(make_problems(8), srv.base_url, Path(d), 8, grader)
        for conc in (1, 8):
            with tempfile.TemporaryDirectory() as d:
                summary, wall, tokens = await one_run(problems, srv.base_url, Path(d), conc, grader)
                ideal = summary.model_calls * args.delay / conc
                rows.append({"concurrency": conc, "calls": summary.model_calls, "wall_s": round(wall, 3), "ideal_s": round(ideal, 3),
                             "ratio_to_ideal": round(wall / ideal, 3), "accepted": summary.accepted,
                             "tokens_per_accepted": round(tokens / max(summary.accepted, 1), 1)})
        with tempfile.TemporaryDirectory() as d:
            await one_run(problems, srv.base_url, Path(d), 8, grader, fresh_store=False)
            s_skip, wall_skip, _ = await one_run(problems, srv.base_url, Path(d), 8, grader, fresh_store=False)
            s_cache, wall_cache, _ = await one_run(problems, srv.base_url, Path(d), 8, grader, fresh_store=True)
    return {
        "problems": args.problems, "delay_s": args.delay, "runs": rows,
        "rerun_done_transcripts": {"calls": s_skip.model_calls, "ms_per_problem": round(1000 * wall_skip / args.problems, 2)},
        "rerun_warm_model_cache": {"calls": s_cache.model_calls, "cached": s_cache.cached, "ms_per_problem": round(1000 * wall_cache / args.problems, 2)},
    }


def print_command_table(cmd: dict, delay: float) -> None:
    t = Table(title=f"`distill corpus run` vs a bare asyncio client; server: {cmd['server']}; {cmd['problems']} problems, "
                    f"{delay * 1000:.0f} ms per call, concurrency {cmd['concurrency']}, {cmd['calls']} calls (ideal {cmd['ideal_s']:.2f} s)")
    for c in ("round", "command s", "in run loop s", "start-up + exit s", "bare client s (baseline)", "bare / ideal", "ratio"):
        t.add_column(c)
    for i, r in enumerate(cmd["rounds"], 1):
        t.add_row(str(i), f"{r['wall_s']:.2f}", f"{r['loop_s']:.2f}", f"{r['startup_exit_s']:.2f}", f"{r['bare_s']:.2f}",
                  f"{r['bare_s'] / cmd['ideal_s']:.3f}x", f"{r['ratio']:.3f}x")
    t.add_row("median", "", "", "", "", "", f"[bold]{cmd['ratio']:.3f}x[/] ({cmd['ratio_min']:.3f}-{cmd['ratio_max']:.3f})")
    Console().print(t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "corpus.json")
    ap.add_argument("--command-problems", type=int, default=650, help="Problems for the command-vs-bare-client row (the 15 O'Bryan years).")
    ap.add_argument("--command-concurrency", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5, help="Interleaved command/bare-client pairs; the median ratio is reported.")
    ap.add_argument("--only-command", action="store_true", help="Only the command-vs-bare-client comparison.")
    args = ap.parse_args()
    cmds = {}
    for key, nodelay, server in (("command_vs_bare_client", False, "http.server defaults, as #13 specified"),
                                 ("command_vs_bare_client_nodelay", True, "TCP_NODELAY")):
        with ServerProcess(responder, args.delay, nodelay=nodelay) as srv:
            cmd = cmds[key] = {"server": server, **command_vs_bare(srv.base_url, args.command_problems, args.command_concurrency,
                                                                   args.repeats, args.delay)}
        print_command_table(cmd, args.delay)
    if args.only_command:
        save(args.out.with_name("corpus_command.json"), cmds)
        return 0
    result = asyncio.run(main_async(args))
    result.update(cmds)
    t = Table(title=f"corpus: {args.problems} problems, {args.delay * 1000:.0f} ms per call")
    for c in ("concurrency", "calls", "wall s", "ideal s", "wall/ideal", "tokens/accepted"):
        t.add_column(c)
    for r in result["runs"]:
        t.add_row(str(r["concurrency"]), str(r["calls"]), f"{r['wall_s']:.2f}", f"{r['ideal_s']:.2f}", f"{r['ratio_to_ideal']:.3f}x", f"{r['tokens_per_accepted']:.0f}")
    Console().print(t)
    a, b = result["rerun_done_transcripts"], result["rerun_warm_model_cache"]
    print(f"cached rerun (transcripts done): {a['ms_per_problem']:.2f} ms/problem, {a['calls']} network calls")
    print(f"rerun with a warm model-call cache only: {b['ms_per_problem']:.2f} ms/problem, {b['calls']} network calls, {b['cached']} cached")
    save(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
