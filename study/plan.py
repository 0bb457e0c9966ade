"""`study run --plan`: every pending step of a study with its estimate (memory, time, cost), and the totals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.plan.machine import human
from distill.plan.record import Plan

PLANNED = ("corpus", "finetune", "eval")  # the steps that spend memory, time or money; the rest take seconds


def plan_study(study: Any, *, probe: bool = False) -> Plan:
    """One plan per pending step (done steps cost nothing), the totals summed over them and the peak as the
    largest step's (steps run one after another, or side by side with --jobs)."""
    total = Plan(kind="study", name=study.cfg.name)
    pending = [(step, key, fp, inputs) for step, key, fp, inputs in study.plan() if study._done(key, fp) is None]
    if any(step == "import" for step, *_ in pending):
        study.preview_import()
    for step, key, fp, inputs in pending:
        total.steps.append(_step_plan(study, step, key, fp, inputs, probe))
    known = [p.time_s for p in total.steps if p.time_s is not None]
    total.time_s = sum(known) if known else None
    costs = [p.cost_usd for p in total.steps if p.cost_usd is not None]
    total.cost_usd = sum(costs) if costs else None
    peaks = [p for p in total.steps if p.peak_bytes is not None]
    if peaks:
        top = max(peaks, key=lambda p: p.peak_bytes or 0)
        total.peak_bytes, total.limit_bytes, total.limit_source = top.peak_bytes, top.limit_bytes, top.limit_source
    total.fits = all(p.fits for p in total.steps)
    total.details = {"pending": [p.name for p in total.steps], "untimed": [p.name for p in total.steps if p.time_s is None and p.kind in PLANNED]}
    return total


def _step_plan(study: Any, step: str, key: str, fp: str, inputs: dict[str, Any], probe: bool) -> Plan:
    try:
        if step == "corpus":
            return _corpus(study, key)
        if step == "finetune":
            return _finetune(study, key, fp, inputs["level"], probe)
        if step == "evaluate":
            return _evaluate(study, key, fp, inputs, probe)
    except DistillError as exc:  # an input not there yet: say what cannot be estimated, plan the rest
        p = Plan(kind=step, name=key)
        p.add("estimate", "n/a", str(exc))
        return p
    p = Plan(kind=step, name=key)
    p.add("work", "light", "seconds; no model")
    return p


def _corpus(study: Any, key: str) -> Plan:
    from distill.agents.team import Templates
    from distill.corpus.plan import plan_corpus
    from distill.corpus.service import CorpusRequest, open_store

    req = CorpusRequest(study._corpus_problems(), max_rounds=study.cfg.corpus.max_rounds, concurrency=study.cfg.corpus.concurrency,
                        prompts_dir=study.prompts_dir)
    plan = plan_corpus(open_store(study.ws), study.settings, req, Templates.load(study.prompts_dir))
    plan.name = key
    return plan


def _finetune(study: Any, key: str, fp: str, level: str, probe: bool) -> Plan:
    from distill.finetune.plan import plan_finetune

    args = study.cfg.finetune
    if args.method != "sft" or level in ("dpo", "grpo") or ":" in level:
        p = Plan(kind="finetune", name=key)
        p.add("estimate", "n/a", "preference and RL runs are not planned yet")
        return p
    out = study.dir / "finetune" / f"{level}-{fp[:8]}"
    exported = study.state().steps.get(f"export:{level}")
    data = Path(exported.outputs["dir"]) if exported is not None and exported.outputs.get("dir") else None
    if data is not None and (data / "train.jsonl").exists():
        plan = plan_finetune(args.model_copy(update={"data": str(data), "out": str(out)}), probe=probe)
    else:  # not exported yet: every batch at --max-seq-length, an upper bound
        plan = plan_finetune(args.model_copy(update={"data": "", "out": str(out)}), lengths=[args.max_seq_length] * args.batch_size)
        plan.add("note", "upper bound", f"export:{level} is not written yet: every batch at --max-seq-length {args.max_seq_length}")
    plan.name = key
    return plan


def _evaluate(study: Any, key: str, fp: str, inputs: dict[str, Any], probe: bool) -> Plan:
    from distill.evaluation.plan import plan_evaluation

    kind, level, math500 = inputs["kind"], inputs.get("level"), inputs.get("math500", False)
    try:
        name, req = study.eval_request(fp, kind, level, math500)
    except DistillError:  # its adapter is not trained yet: memory as the base model's (an adapter adds little), no probe
        name, req = study.eval_request(fp, "base", None, math500)
        probe = False
    plan = plan_evaluation(req, study.settings, probe=probe)
    plan.name = key
    return plan


def refusal(plan: Plan) -> str:
    bad = [p for p in plan.steps if not p.fits]
    head = bad[0]
    return f"{head.name} {head.refusal()}" + (f" (and {len(bad) - 1} more steps; `study run --plan` lists them)" if len(bad) > 1 else "")


__all__ = ["human", "plan_study", "refusal"]
