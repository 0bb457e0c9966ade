"""`eval run --plan`: what an evaluation needs, without loading weights: the model's weights, the KV cache at
batch x (prompt + max_tokens), the largest --batch-size that fits, the tokens it will generate and, with
--probe, the time from one real batch (or one round of endpoint requests)."""

from __future__ import annotations

import math
import time

from distill.corpus.prompt import StudentPrompt
from distill.finetune.plan import load_tokenizer
from distill.plan.machine import Limit, human, memory_limit
from distill.plan.memory import ModelShape, generation_memory
from distill.plan.record import Plan, duration

from .service import EvalRequest, build_backend

KV_STEP = 256  # mlx-lm's KV cache grows in steps of 256 tokens


def prompt_lengths(req: EvalRequest) -> tuple[list[int], str]:
    student = StudentPrompt.load(req.prompts_dir, level_instruction=req.prompt_levels)
    messages = [student.messages(p, req.level) for p in req.problems]
    tok = load_tokenizer(req.who.model) if req.who.model else None
    if tok is not None:
        return [len(tok.apply_chat_template(m, add_generation_prompt=True)) for m in messages], "tokenised with the model's chat template"
    return [sum(len(x["content"]) for x in m) // 4 + 8 * len(m) for m in messages], "approximated at 4 characters a token"


def kv_tokens(prompt: int, max_tokens: int) -> int:
    return KV_STEP * math.ceil((prompt + max_tokens) / KV_STEP)


def plan_evaluation(req: EvalRequest, settings=None, *, probe: bool = False, limit: Limit | None = None) -> Plan:
    items = len(req.problems) * req.runs * req.samples
    s = req.sampling
    lengths, how = prompt_lengths(req)
    longest = max(lengths) if lengths else 0
    plan = Plan(kind="eval", name=req.out.name, tokens=items * s.max_tokens)
    plan.add("generations", f"{items}", f"{len(req.problems)} problems x {req.runs} runs x {req.samples} samples")
    plan.add("tokens (at most)", f"{items * s.max_tokens:,}", f"--max-tokens {s.max_tokens} each")
    plan.add("longest prompt", f"{longest} tokens", how)
    if req.who.model:
        shape = ModelShape.read(req.who.model)
        limit = limit or memory_limit()
        span = kv_tokens(longest, s.max_tokens)
        mem = generation_memory(shape, batch=req.batch_size, prompt=longest, max_tokens=span - longest)
        plan.peak_bytes, plan.limit_bytes, plan.limit_source = mem["peak"], limit.bytes, limit.source
        plan.fits = mem["peak"] <= limit.bytes
        plan.add("weights", human(mem["weights"]), f"{shape.bits}-bit" if shape.bits else f"{8 * shape.dtype_bytes}-bit")
        plan.add("KV cache", human(mem["kv_cache"]), f"{req.batch_size} x {span} tokens x {shape.layers} layers x {shape.kv_heads} KV heads x {shape.head_dim}")
        plan.add("peak", human(mem["peak"]), f"of {human(limit.bytes)} ({limit.source})")

        def fits(b: int) -> bool:
            return generation_memory(shape, batch=b, prompt=longest, max_tokens=span - longest)["peak"] <= limit.bytes

        best = 0
        b = 1
        while b <= 4096 and fits(b):
            best, b = b, b * 2
        if best:
            lo, hi = best, min(b, 4097) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
            best = lo
        plan.add("largest --batch-size", str(best), "that fits the limit")
        plan.details = {"shape": shape.__dict__, "memory": mem, "largest_batch_size": best, "kv_tokens": span}
        if not plan.fits:
            plan.suggestion = f"--batch-size {best} needs ~{human(generation_memory(shape, batch=best, prompt=longest, max_tokens=span - longest)['peak'])}" if best else None
    else:
        plan.add("memory", "n/a", f"served by the {req.who.endpoint} endpoint")
    if probe:
        seconds, n, gen_tokens = probe_generation(req, settings)
        per_round = req.batch_size if req.who.model else req.concurrency
        plan.time_s = seconds * math.ceil(items / per_round)
        plan.time_source = "probe"
        plan.add("probe", f"{seconds:.1f} s", f"{n} generations, {gen_tokens} tokens ({gen_tokens / max(seconds, 1e-9):.0f} tokens/s)")
    plan.add("time", duration(plan.time_s), "from the probe" if probe else "--plan --probe times one real batch")
    return plan


def probe_generation(req: EvalRequest, settings) -> tuple[float, int, int]:
    """Seconds for one batch (local) or one round of concurrent requests (endpoint), as the run sends them."""
    backend = build_backend(settings, req.who, concurrency=req.concurrency, batch_size=req.batch_size)
    backend.check()
    n = req.batch_size if req.who.model else req.concurrency
    student = StudentPrompt.load(req.prompts_dir, level_instruction=req.prompt_levels)
    prompts = [student.messages(p, req.level) for p in list(req.problems)[:n]]
    while len(prompts) < n:
        prompts.append(prompts[len(prompts) % max(1, len(req.problems))])
    if req.who.model:  # the first batch pays for loading and warm-up: time a second one
        backend.generate(prompts, req.sampling, req.seed)
    t0 = time.perf_counter()
    gens = backend.generate(prompts, req.sampling, req.seed, seeds=[req.seed] * len(prompts))
    return time.perf_counter() - t0, len(gens), sum(g.tokens for g in gens)


__all__ = ["plan_evaluation", "prompt_lengths"]
