"""Evaluation benchmark on the tiny Qwen2: `batch_generate` (batch 8) against one prompt at a time
(mlx-lm's stream_generate, the baseline) for 32 prompts; and inside a full evaluation, grading
throughput and the share of wall time spent outside generation.

    python bench/evaluation.py [--prompts 32] [--max-tokens 64] [--out bench/results/evaluation.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import DelayServer, save  # noqa: E402


def endpoints_throughput(n: int, concurrency: int, delay: float) -> dict:
    """Responses per second from one endpoint and from two, at the same concurrency per endpoint."""
    from distill.config import ModelRole
    from distill.evaluation.backends import EndpointBackend, Sampling

    prompts = [[{"role": "user", "content": f"What is {i} + 1?"}] for i in range(n)]
    with DelayServer(delay) as a, DelayServer(delay) as b:
        role = ModelRole(base_url=a.base_url, model="bench", api_key_env=None, max_retries=0)
        EndpointBackend(role, concurrency).generate(prompts[:4], Sampling(), 0)  # warm-up
        t0 = time.perf_counter()
        EndpointBackend(role, concurrency).generate(prompts, Sampling(), 0)
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        both = role.model_copy(update={"extra_urls": [b.base_url]})  # the same role over two servers, with failover
        gens = EndpointBackend(both, concurrency).generate(prompts, Sampling(), 0)
        two = time.perf_counter() - t0
    assert all(g.finish_reason == "stop" for g in gens)
    return {"responses": n, "concurrency_per_endpoint": concurrency, "delay_s": delay, "one_endpoint_s": round(one, 3),
            "two_endpoints_s": round(two, 3), "throughput_ratio": round(one / two, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "evaluation.json")
    ap.add_argument("--only-endpoints", action="store_true", help="Only the one-vs-two-endpoints comparison.")
    args = ap.parse_args()
    ends = endpoints_throughput(200, 8, 0.2)
    t = Table(title=f"endpoints: {ends['responses']} responses, {ends['delay_s'] * 1000:.0f} ms each, concurrency {ends['concurrency_per_endpoint']} per endpoint")
    for c in ("endpoints", "seconds", "throughput vs one endpoint"):
        t.add_column(c)
    t.add_row("one (baseline)", f"{ends['one_endpoint_s']:.2f}", "1.00x")
    t.add_row("two", f"{ends['two_endpoints_s']:.2f}", f"{ends['throughput_ratio']:.2f}x")
    Console().print(t)
    if args.only_endpoints:
        save(args.out.with_name("evaluation_endpoints.json"), ends)
        return 0
    os.environ.setdefault("MLX_DISABLE_COMPILE", "1")
    from distill.corpus.prompt import StudentPrompt
    from distill.demo.samples import sample_files
    from distill.demo.tiny import build_tiny_qwen2
    from distill.evaluation.backends import MlxBackend, Sampling
    from distill.evaluation.evaluate import run_evaluation
    from distill.grading.pool import Grader
    from distill.problems.importers import import_paths
    from distill.problems.store import ProblemStore

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        model = build_tiny_qwen2(d / "model", layers=args.layers, hidden=args.hidden)
        problems = import_paths(sample_files(), source="sample")
        student = StudentPrompt.load()
        prompts = [student.messages(problems[i % len(problems)]) for i in range(args.prompts)]
        sampling = Sampling(max_tokens=args.max_tokens)
        backend = MlxBackend(str(model), batch_size=args.batch)
        backend.check()
        backend.generate(prompts[: args.batch], sampling, 0)  # warm-up
        t0 = time.perf_counter()
        batched = backend.generate(prompts, sampling, 0)
        t_batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        single = backend.generate_one_at_a_time(prompts, sampling, 0)
        t_single = time.perf_counter() - t0
        tok_b, tok_s = sum(g.tokens for g in batched), sum(g.tokens for g in single)

        ProblemStore(d / "problems.jsonl").merge(problems)
        with Grader(workers=2) as grader:
            grader.grade("1", "\\boxed{1}")
            s = run_evaluation(problems, backend, d / "eval", runs=2, sampling=sampling, grader=grader, chunk=args.batch * 2)
        sess = s.this_session.model_dump()

    result = {
        "prompts": args.prompts, "max_tokens": args.max_tokens, "batch": args.batch, "model": {"layers": args.layers, "hidden": args.hidden},
        "one_at_a_time": {"seconds": round(t_single, 3), "tokens": tok_s, "tokens_per_s": round(tok_s / t_single, 1)},
        "batch_generate": {"seconds": round(t_batched, 3), "tokens": tok_b, "tokens_per_s": round(tok_b / t_batched, 1)},
        "speedup": round((tok_b / t_batched) / (tok_s / t_single), 2),
        "endpoints": ends,
        "evaluation_loop": {"responses": sess["generated"], "wall_s": round(sess["wall_s"], 3), "generation_s": round(sess["generation_s"], 3),
                            "grading_s": round(sess["grading_s"], 3), "graded_per_s": round(sess["generated"] / sess["grading_s"], 1) if sess["grading_s"] else None,
                            "outside_generation_share": round(sess["outside_generation_share"], 4)},
    }
    t = Table(title=f"generation: {args.prompts} prompts x {args.max_tokens} tokens, small random Qwen2 ({args.layers} layers, hidden {args.hidden})")
    for c in ("mode", "seconds", "tokens/s", "vs baseline"):
        t.add_column(c)
    t.add_row("one at a time (baseline)", f"{t_single:.2f}", f"{tok_s / t_single:.0f}", "1.00x")
    t.add_row(f"batch_generate (batch {args.batch})", f"{t_batched:.2f}", f"{tok_b / t_batched:.0f}", f"{result['speedup']:.2f}x")
    Console().print(t)
    e = result["evaluation_loop"]
    print(f"evaluation loop: {e['responses']} responses in {e['wall_s']:.2f}s; generation {e['generation_s']:.2f}s, grading {e['grading_s']:.2f}s "
          f"({e['graded_per_s']} graded/s); outside generation {100 * e['outside_generation_share']:.1f}% of wall time")
    save(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
