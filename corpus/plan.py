"""`corpus run --plan`: the model calls, tokens, cost and time of the samples a run has still to do, from the
store's own history for these models (finished transcripts: tokens and seconds per sample), else from a
stated default (each call at half its role's max_tokens, a minute per sample)."""

from __future__ import annotations

import math
import statistics

from distill.config import Settings
from distill.plan.record import Plan, cost, duration

from .runner import fingerprint, run_identity
from .transcripts import TranscriptStore

DEFAULT_PROMPT_TOKENS = {"solver": 400, "verifier": 1500}  # a problem and the task; the verifier also reads the reply
DEFAULT_SECONDS_PER_SAMPLE = 60.0


def _role_usage(t, role: str) -> tuple[int, int, int]:
    msgs = [m for m in t.messages if m.source in ((role,) if role == "solver" else ("verifier", "formatter"))]
    return len(msgs), sum(m.usage.prompt_tokens for m in msgs), sum(m.usage.completion_tokens for m in msgs)


def plan_corpus(store: TranscriptStore, settings: Settings, req, templates) -> Plan:
    identity = run_identity(templates, settings.solver, settings.verifier, req.max_rounds)
    todo = done = 0
    for p in req.problems:
        for k in range(req.samples):
            t = store.get(p.id, k)
            fresh = t is not None and t.fingerprint == fingerprint(p, identity, k) and t.status != "failed"
            if fresh and not (req.retry_rejected and t.status == "rejected"):
                done += 1
            else:
                todo += 1
    models = {"solver": identity["solver"]["model"], "verifier": identity["verifier"]["model"]}
    history = [t for t in store.all() if t.status != "failed" and t.usage.total > 0
               and (t.models.get("solver") or {}).get("model") == models["solver"]]
    plan = Plan(kind="corpus", name=f"{len(req.problems)} problems", details={"to_run": todo, "done": done, "history": len(history)})
    plan.add("samples", f"{todo} to run", f"{done} done (replayed from the cache at no cost)")
    total_cost = 0.0
    tokens = 0
    priced = True
    for role, r in (("solver", settings.solver), ("verifier", settings.verifier)):
        if history:
            per = [_role_usage(t, role) for t in history]
            calls, pt, ct = (statistics.fmean(x[i] for x in per) for i in range(3))
            source = f"mean of {len(history)} finished samples of {models['solver']}"
        else:
            calls, pt, ct = 1.0, float(DEFAULT_PROMPT_TOKENS[role]), r.max_tokens / 2
            source = f"default: one call, {DEFAULT_PROMPT_TOKENS[role]} prompt tokens, half of max_tokens {r.max_tokens}"
        n_calls = math.ceil(calls * todo)
        p_tok, c_tok = int(pt * todo), int(ct * todo)
        tokens += p_tok + c_tok
        priced = priced and r.priced
        usd = r.cost(p_tok, c_tok) if r.priced else None
        total_cost += usd or 0.0
        plan.add(f"{role} calls", f"{n_calls:,}", source)
        plan.add(f"{role} tokens", f"{p_tok:,} + {c_tok:,}", f"prompt + completion; cost {cost(usd)}" + ("" if r.priced else " (no prices set)"))
    secs = [t.seconds for t in history if t.seconds > 0]
    per_sample = statistics.median(secs) if secs else DEFAULT_SECONDS_PER_SAMPLE
    plan.time_s = per_sample * todo / max(1, req.concurrency)
    plan.time_source = "history" if secs else "default"
    plan.cost_usd = total_cost if priced else None
    plan.tokens = tokens
    plan.add("cost", cost(plan.cost_usd), "at the roles' prices" if priced else "set price_input and price_output to estimate it")
    plan.add("time", duration(plan.time_s), f"{per_sample:.0f} s a sample ({'median of finished' if secs else 'default'}) "
             f"at concurrency {req.concurrency}")
    return plan
