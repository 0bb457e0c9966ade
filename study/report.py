"""The study report: report.md + PNGs + study.json, every number read from the step outputs."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from distill.io import atomic_write_json, atomic_write_text


def _pm(s: dict[str, Any] | None) -> str:
    return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}" if s else "–"


def _differences(study) -> list[str]:
    from distill.study.config import PUBLISHED

    c = study.cfg
    notes = []
    model = c.finetune.model
    if "qwen2.5-7b" not in model.lower():
        notes.append(f"student model is `{model}`, not the published {PUBLISHED['student']}")
    iters = c.finetune.iters
    if iters != PUBLISHED["iters"]:
        notes.append(f"{iters} fine-tuning iterations, not {PUBLISHED['iters']}")
    if c.evaluation.runs != PUBLISHED["runs"]:
        notes.append(f"{c.evaluation.runs} evaluation runs, not {PUBLISHED['runs']}")
    if c.levels.train != PUBLISHED["levels"]:
        notes.append(f"levels {', '.join(c.levels.train)} trained, not all of R1..R6")
    return notes


def collect(study) -> dict[str, Any]:
    from distill.corpus.transcripts import TranscriptStore

    # only the steps of the current plan: a level dropped from the config leaves the report too
    recorded = study.state().steps
    steps = {k: recorded[k].outputs for _, k, _, _ in study.plan() if k in recorded}
    evals = {k: v for k, v in steps.items() if k.startswith("evaluate:")}
    summaries = {k: json.loads((Path(v["dir"]) / "summary.json").read_text()) for k, v in evals.items()}
    finetunes = {k.split(":")[1]: {**v, "summary": json.loads((Path(v["dir"]) / "summary.json").read_text())}
                 for k, v in steps.items() if k.startswith("finetune:")}
    problems = study._corpus_problems()
    store = TranscriptStore(study.ws.transcripts_dir)
    ts = [t for p in problems if (t := store.get(p.id)) is not None]
    reasons = Counter(t.rejection.kind for t in ts if t.status == "rejected" and t.rejection)
    tokens = {"prompt": sum(t.usage.prompt_tokens for t in ts), "completion": sum(t.usage.completion_tokens for t in ts)}
    spent = sum(t.cost_usd for p in problems for t in store.samples(p.id))
    cost = round(spent, 4) if spent > 0 else None  # the roles' prices, recorded per transcript
    if cost is None and study.cfg.cost.prompt_usd_per_mtok is not None and study.cfg.cost.completion_usd_per_mtok is not None:
        cost = tokens["prompt"] / 1e6 * study.cfg.cost.prompt_usd_per_mtok + tokens["completion"] / 1e6 * study.cfg.cost.completion_usd_per_mtok
    corpus = {"problems": len(problems), "accepted": sum(t.status == "accepted" for t in ts), "rejected": sum(t.status == "rejected" for t in ts),
              "failed": sum(t.status == "failed" for t in ts), "rejected_reasons": dict(reasons), "tokens": tokens, "cost_usd": cost}
    levels = {k.split(":")[1]: v for k, v in steps.items() if k.startswith("levels:")}
    return {"evaluations": summaries, "eval_dirs": {k: v["dir"] for k, v in evals.items()}, "finetune": finetunes, "corpus": corpus, "levels": levels}


def write_study_report(study) -> Path:
    from distill.evaluation.report import (
        compare_evals,
        compare_markdown,
        load_eval,
        plot_by_year,
        plot_length,
        plot_spread,
    )
    from distill.study.config import PUBLISHED

    data = collect(study)
    ev, c = data["evaluations"], study.cfg
    out_dir = study.dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    first = c.levels.train[0]
    base, teacher, tuned = ev.get("evaluate:base"), ev.get("evaluate:teacher"), ev.get(f"evaluate:tuned:{first}")
    m_base, m_tuned = ev.get("evaluate:math500:base"), ev.get("evaluate:math500:tuned")
    lines = [f"# Study report: {c.name}", ""]
    notes = _differences(study)
    if notes:
        lines += ["> **This run differs from the published setup:** " + "; ".join(notes) + ". Its numbers are not the study's.", ""]
    lines += ["## Headline", "", "| model | O'Bryan test years: accuracy (mean ± std over runs) | MATH-500 | published |", "|---|---|---|---|",
              f"| base student | {_pm(base)} | {_pm(m_base)} | {100 * PUBLISHED['base']:.2f} |",
              f"| teacher | {_pm(teacher)} | – | {100 * PUBLISHED['teacher']:.2f} |",
              f"| tuned student ({first}) | {_pm(tuned)} | {_pm(m_tuned)} | {100 * PUBLISHED['tuned']:.2f} ± {100 * PUBLISHED['tuned_std']:.2f}; MATH-500 {100 * PUBLISHED['math500']:.1f} |",
              "", f"Test years: {c.split.test_years}; {c.evaluation.runs} runs; undecided verdicts count as wrong.", ""]
    names = {"evaluate:base": "base", "evaluate:teacher": "teacher", **{f"evaluate:tuned:{lv}": f"tuned-{lv}" for lv in c.levels.train}}
    loaded = []
    for key, label in names.items():
        if key in data["eval_dirs"]:
            e = load_eval(Path(data["eval_dirs"][key]))
            e["name"] = label
            loaded.append(e)
    sig = None
    if base and tuned:
        pair = [e for e in loaded if e["name"] in ("base", f"tuned-{first}")]
        sig = compare_evals(pair, 0, 1)
        lines += ["## Tuned against base", "", compare_markdown(sig), ""]
    if len(c.levels.train) > 1:
        table = {lv: ev[f"evaluate:tuned:{lv}"] for lv in c.levels.train if f"evaluate:tuned:{lv}" in ev}
        plot = plot_length(table, out_dir / "length_vs_accuracy.png")
        lines += ["## Response length (R1..R6)", "", "| level | training words (mean) | response words (mean) | accuracy (mean ± std) |", "|---|---|---|---|"]
        for lv, s in table.items():
            words = data["levels"].get(lv, {}).get("mean_words", 0)
            lines.append(f"| {lv} | {words:.1f} | {s['mean_words']:.1f} | {_pm(s)} |")
        lines += ["", f"![accuracy against length]({plot.name})", ""]
    if loaded:
        by_year = plot_by_year(loaded, out_dir / "accuracy_by_year.png")
        spread = plot_spread(loaded, out_dir / "per_run_spread.png")
        lines += ["## Accuracy by year and section", ""]
        if by_year:
            lines += [f"![accuracy by year]({by_year.name})", ""]
        sections = sorted({s for e in loaded for s in e["summary"]["by_section"]})
        lines += ["| section | " + " | ".join(e["name"] for e in loaded) + " |", "|---|" + "---|" * len(loaded)]
        for sec in sections:
            lines.append(f"| {sec} | " + " | ".join(_pm(e["summary"]["by_section"].get(sec)) for e in loaded) + " |")
        lines += ["", f"![per-run spread]({spread.name})", ""]
    cp = data["corpus"]
    lines += ["## Corpus", "", f"- problems in training years: {cp['problems']}; accepted {cp['accepted']}, rejected {cp['rejected']}, failed {cp['failed']}",
              f"- tokens: {cp['tokens']['prompt']:,} prompt, {cp['tokens']['completion']:,} completion"
              + (f"; cost ${cp['cost_usd']:.2f} (${cp['cost_usd'] / max(1, cp['accepted']):.4f} per accepted problem)" if cp["cost_usd"] is not None
                 else "; cost: set price_input/price_output on the solver and verifier roles to see it")]
    for reason, n in sorted(cp["rejected_reasons"].items(), key=lambda kv: -kv[1]):
        lines.append(f"- rejected x{n}: {reason}")
    lines += ["", "## Fine-tuning", "", "| level | best iteration | best val loss | final val loss | iterations | stopped early |", "|---|---|---|---|---|---|"]
    for lv, f in data["finetune"].items():
        lines.append(f"| {lv} | {f['best_iteration']} | {f['best_val_loss']:.4f} | {f['final_val_loss']:.4f} | {f['iterations_run']} | {f['stopped_early']} |")
        src = Path(f["dir"]) / "loss.png"
        if src.exists():
            shutil.copyfile(src, out_dir / f"loss_{lv}.png")
    lines.append("")
    for lv in data["finetune"]:
        if (out_dir / f"loss_{lv}.png").exists():
            lines += [f"![loss {lv}](loss_{lv}.png)", ""]
    report = out_dir / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    atomic_write_json(out_dir / "study.json", {"name": c.name, "differences_from_published": notes, "significance": sig, **data})
    return report
