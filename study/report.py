"""The study report: report.md + PNGs + study.json, every number read from the step outputs."""

from __future__ import annotations

import html

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from distill.evaluation.plots import plot_distillation
from distill.evaluation.records import read_summary
from distill.finetune.records import read_finetune_summary

from distill.io import atomic_write_text, write_record

from .bought import frontier, frontier_markdown, markdown, what_it_bought
from .config import CONDITIONED
from .records import StudyResult


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
    summaries = {k: read_summary(Path(v["dir"])).model_dump(mode="json") for k, v in evals.items()}
    finetunes = {k.split(":")[1]: {**v, "summary": read_finetune_summary(Path(v["dir"])).model_dump(mode="json")}
                 for k, v in steps.items() if k.startswith("finetune:")}
    problems = study._corpus_problems()
    store = TranscriptStore(study.ws.transcripts_dir)
    ts = [t for p in problems if (t := store.get(p.id)) is not None]
    reasons = Counter(t.rejection.kind for t in ts if t.status == "rejected" and t.rejection)
    tokens = {"prompt": sum(t.usage.prompt_tokens for t in ts), "completion": sum(t.usage.completion_tokens for t in ts)}
    spent = sum(t.cost_usd for p in problems for t in store.samples(p.id))
    cost = round(spent, 4) if spent > 0 else None  # the roles' prices, recorded per transcript
    if cost is None and study.settings.solver.priced and study.settings.verifier.priced:  # priced after the run: the same per-role prices
        cost = round(sum(_priced(study.settings, t) for p in problems for t in store.samples(p.id)), 4)
    corpus = {"problems": len(problems), "accepted": sum(t.status == "accepted" for t in ts), "rejected": sum(t.status == "rejected" for t in ts),
              "failed": sum(t.status == "failed" for t in ts), "rejected_reasons": dict(reasons), "tokens": tokens, "cost_usd": cost}
    levels = {k.split(":")[1]: v for k, v in steps.items() if k.startswith("levels:")}
    return {"evaluations": summaries, "eval_dirs": {k: v["dir"] for k, v in evals.items()}, "finetune": finetunes, "corpus": corpus, "levels": levels}


def _priced(settings, t) -> float:
    """A transcript's cost at the roles' current prices: Solver turns at the solver's, the rest at the verifier's."""
    role = {"solver": settings.solver}
    return sum(role.get(m.source, settings.verifier).cost(m.usage.prompt_tokens, m.usage.completion_tokens) for m in t.messages)


def _cell(s: dict[str, Any] | None) -> str:
    """mean ± std (95% CI) for a headline cell."""
    if not s:
        return "–"
    lo, hi = s.get("ci95", [s["mean"], s["mean"]])
    return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f} (CI {100 * lo:.1f}–{100 * hi:.1f})"


def _n(s: dict[str, Any] | None) -> str:
    return f"{s['n_problems']} x {len(s['runs'])}" if s else "–"


def _significance(loaded: dict[str, dict[str, Any]], pairs: list[tuple[str, str]]) -> tuple[list[str], list[dict[str, Any]]]:
    from distill.evaluation.report import compare_evals

    lines = ["| comparison | common problems | difference (points) | 95% CI | paired bootstrap p | McNemar p |", "|---|---|---|---|---|---|"]
    out = []
    for a, b in pairs:
        if a not in loaded or b not in loaded:
            continue
        try:
            p = compare_evals([loaded[a], loaded[b]], 0, 1)["paired"]
        except Exception:  # no problem in common: nothing to test
            continue
        bs, mc = p["bootstrap"], p["mcnemar_majority"]
        lines.append(f"| {b} − {a} | {bs['n']} | {100 * bs['diff']:+.2f} | {100 * bs['ci95'][0]:+.2f} to {100 * bs['ci95'][1]:+.2f} | "
                     f"{bs['p_value']:.3g} | {mc['p_value']:.3g} |")
        out.append({"a": a, "b": b, **p})
    return lines, out


def write_study_report(study) -> Path:
    """report.md, report.html, the figures and study.json from the study's recorded steps."""
    data = collect(study)
    c = study.cfg
    out_dir = study.dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# Study report: {c.name}", ""]
    notes = _differences(study)
    if notes:
        lines += ["> **This run differs from the published setup:** " + "; ".join(notes) + ". Its numbers are not the study's.", ""]
    if c.notes:
        lines += [c.notes.strip(), ""]
    loaded = _loaded_evals(c, data)
    first, last = c.levels.train[0], c.levels.train[-1]
    pairs = [("base", f"tuned-{lv}") for lv in c.levels.train] + [(f"tuned-{first}", "teacher")]
    if last != first:
        pairs.append((f"tuned-{last}", f"tuned-{first}"))  # does the long chain of thought beat the short one?
    if c.preference is not None:
        pairs.append((f"tuned-{c.preference.level}", "tuned-R1+dpo"))
    if c.rl is not None:
        pairs.append((f"tuned-{c.rl.level}", "tuned-R1+grpo"))
    sig_lines, sig = _significance(loaded, pairs)
    bought = what_it_bought(c.levels.train, data["evaluations"], data["levels"], sig, conditioned_words=_conditioned_words(data))
    if bought is not None:  # the first screen: base against tuned, per level (and the one conditioned student at each level)
        plot = plot_distillation([r.model_dump() for r in bought.levels], data["evaluations"].get("evaluate:base"), out_dir / "distillation.png",
                                 Path(c.finetune.model).name,
                                 conditioned=[r.model_dump() for r in bought.conditioned])
        lines += markdown(bought, plot.name)
    cost = frontier(data["evaluations"])
    if len(cost) > 1:
        from distill.evaluation.plots import plot_frontier

        fplot = plot_frontier([r.model_dump() for r in cost], out_dir / "frontier.png",
                              f"Accuracy against tokens: every student of the study ({Path(c.finetune.model).name})")
        lines += frontier_markdown(cost, fplot.name)
    lines += _headline(c, data["evaluations"])
    if sig:
        lines += ["## Significance", "", *sig_lines, "", "Paired over the problems both evaluated; McNemar on per-problem majority votes.", ""]
    lines += _length_section(c, data, out_dir) + _year_section(list(loaded.values()), out_dir) + _corpus_section(data["corpus"])
    lines += _finetune_section(c, data["finetune"], out_dir)
    report = out_dir / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    write_html(study, report, lines)
    write_record(out_dir / "study.json", StudyResult.model_validate({"name": c.name, "differences_from_published": notes, "significance": sig,
                                                                    "distillation": bought, "cost": cost, **data}))
    return report


def _conditioned_words(data: dict[str, Any]) -> dict[str, float] | None:
    """The conditioned student's training words per level, from its export's manifest (None without one)."""
    from distill.finetune.model import adapter_export

    ft = data["finetune"].get(CONDITIONED)
    if not ft:
        return None
    manifest = adapter_export(ft["dir"])
    return (manifest.level_mean_words or {}) if manifest else {}


def _headline(c, ev: dict[str, Any]) -> list[str]:
    from distill.study.config import PUBLISHED

    first = c.levels.train[0]
    base, teacher, tuned = ev.get("evaluate:base"), ev.get("evaluate:teacher"), ev.get(f"evaluate:tuned:{first}")
    m_base, m_tuned = ev.get("evaluate:math500:base"), ev.get("evaluate:math500:tuned")
    greedy = c.evaluation.temperature == 0
    return ["## Headline", "",
            "| model | n (problems x runs) | O'Bryan test years: accuracy % (mean ± std over runs; 95% CI over problems) | answer format | MATH-500 | published |",
            "|---|---|---|---|---|---|",
            f"| base student | {_n(base)} | {_cell(base)} | {_fmt(base)} | {_cell(m_base)} | {100 * PUBLISHED['base']:.2f} |",
            f"| teacher | {_n(teacher)} | {_cell(teacher)} | {_fmt(teacher)} | – | {100 * PUBLISHED['teacher']:.2f} |",
            f"| tuned student ({first}) | {_n(tuned)} | {_cell(tuned)} | {_fmt(tuned)} | {_cell(m_tuned)} | "
            f"{100 * PUBLISHED['tuned']:.2f} ± {100 * PUBLISHED['tuned_std']:.2f}; MATH-500 {100 * PUBLISHED['math500']:.1f} |",
            "", f"Test years: {c.split.test_years}; {c.evaluation.runs} runs; undecided verdicts count as wrong; "
                "answer format = share of responses with a boxed or `Final answer:` answer (a student can learn the format without the maths)."
            + (" At temperature 0 every run repeats the first, so ± 0.00 shows no sampling variation, not precision: the CI over problems "
               "is the uncertainty." if greedy else ""), ""]


def _loaded_evals(c, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from distill.evaluation.report import load_eval

    levels = [*c.levels.train, *(["R1+dpo"] if c.preference is not None else []), *(["R1+grpo"] if c.rl is not None else [])]
    names = {"evaluate:base": "base", "evaluate:teacher": "teacher", **{f"evaluate:tuned:{lv}": f"tuned-{lv}" for lv in levels}}
    loaded = {}
    for key, label in names.items():
        if key in data["eval_dirs"]:
            e = load_eval(Path(data["eval_dirs"][key]))
            e["name"] = label
            loaded[label] = e
    return loaded


def _length_section(c, data: dict[str, Any], out_dir: Path) -> list[str]:
    from distill.evaluation.plots import plot_length

    if len(c.levels.train) < 2:
        return []
    ev = data["evaluations"]
    table = {lv: ev[f"evaluate:tuned:{lv}"] for lv in c.levels.train if f"evaluate:tuned:{lv}" in ev}
    plot = plot_length(table, out_dir / "length_vs_accuracy.png", title=f"Accuracy against length: tuned students R1..R6 ({Path(c.finetune.model).name})")
    lines = ["## Response length (R1..R6)", "", "| level | training words (mean) | response words (mean) | accuracy % (95% CI) | answer format |",
             "|---|---|---|---|---|"]
    for lv, s in table.items():
        words = data["levels"].get(lv, {}).get("mean_words", 0)
        lines.append(f"| {lv} | {words:.1f} | {s['mean_words']:.1f} | {_cell(s)} | {_fmt(s)} |")
    return lines + ["", f"![accuracy against length]({plot.name})", ""]


def _year_section(evals: list[dict[str, Any]], out_dir: Path) -> list[str]:
    from distill.evaluation.plots import plot_by_year, plot_spread
    from distill.evaluation.report import decoding_markdown

    if not evals:
        return []
    by_year = plot_by_year(evals, out_dir / "accuracy_by_year.png")
    spread = plot_spread(evals, out_dir / "per_run_spread.png")
    lines = ["## Accuracy by year and section", ""]
    if by_year:
        lines += [f"![accuracy by year]({by_year.name})", ""]
    sections = sorted({s for e in evals for s in e["summary"]["by_section"]})
    lines += ["| section | " + " | ".join(e["name"] for e in evals) + " |", "|---|" + "---|" * len(evals)]
    for sec in sections:
        lines.append(f"| {sec} | " + " | ".join(_pm(e["summary"]["by_section"].get(sec)) for e in evals) + " |")
    return lines + ["", f"![per-run spread]({spread.name})", "", "## Decoding setup", "", decoding_markdown(evals), ""]


def _corpus_section(cp: dict[str, Any]) -> list[str]:
    lines = ["## Corpus", "", f"- problems in training years: {cp['problems']}; accepted {cp['accepted']}, rejected {cp['rejected']}, failed {cp['failed']}",
             f"- tokens: {cp['tokens']['prompt']:,} prompt, {cp['tokens']['completion']:,} completion"
             + (f"; cost ${cp['cost_usd']:.2f} (${cp['cost_usd'] / max(1, cp['accepted']):.4f} per accepted problem)" if cp["cost_usd"] is not None
                else "; cost: set price_input/price_output on the solver and verifier roles to see it")]
    for reason, n in sorted(cp["rejected_reasons"].items(), key=lambda kv: -kv[1]):
        lines.append(f"- rejected x{n}: {reason}")
    return lines


def _finetune_section(c, finetune: dict[str, Any], out_dir: Path) -> list[str]:
    from distill.evaluation.plots import plot_val_loss
    from distill.finetune.callbacks import read_metrics

    lines = ["", "## Fine-tuning", "", "| level | held-out loss: base | held-out loss: tuned (best) | best iteration | final val loss | iterations | stopped early |",
             "|---|---|---|---|---|---|---|"]
    curves, bases = {}, {}
    for lv, f in finetune.items():
        b = f.get("base_val_loss")
        lines.append(f"| {lv} | {'–' if b is None else f'{b:.4f}'} | {f['best_val_loss']:.4f} | {f['best_iteration']} | {f['final_val_loss']:.4f} | "
                     f"{f['iterations_run']} | {f['stopped_early']} |")
        curves[lv] = [(m["iteration"], m["val_loss"]) for m in read_metrics(Path(f["dir"]) / "metrics.jsonl") if m["kind"] == "val"]
        bases[lv] = b
        src = Path(f["dir"]) / "loss.png"
        if src.exists():
            shutil.copyfile(src, out_dir / f"loss_{lv}.png")
    if curves:
        overlay = plot_val_loss(curves, bases, out_dir / "val_loss_by_level.png", Path(c.finetune.model).name)
        lines += ["", "Held-out loss is the validation split's loss: the base model's before the first update, the tuned one's at the kept adapter.",
                  "", f"![validation loss by level]({overlay.name})"]
    lines.append("")
    for lv in finetune:
        if (out_dir / f"loss_{lv}.png").exists():
            lines += [f"![loss {lv}](loss_{lv}.png)", ""]
    return lines


def _fmt(s: dict[str, Any] | None) -> str:
    return f"{100 * s.get('answer_format_rate', 0):.1f}%" if s else "–"


def write_html(study, report: Path, lines: list[str]) -> Path:
    """report.html beside report.md (same tables and figures, mathematics as MathML), and the transcripts
    site under report/transcripts/, linked from the year rows."""
    from distill.viewer.mathhtml import render
    from distill.viewer.site import build_site
    from distill.viewer.site_pages import PAGE
    from distill.corpus.transcripts import TranscriptStore

    site = report.parent / "transcripts"
    build_site(study._problems_of_source(), TranscriptStore(study.ws.transcripts_dir), site)
    years = sorted({p.year for p in study._problems_of_source() if p.year is not None})
    links = " · ".join(f'<a href="transcripts/index.html#year={y}">{y}</a>' for y in years)
    body = render("\n".join(lines)) + f"<h2>Transcripts</h2><p>Problems by year: {links} (<a href='transcripts/index.html'>all</a>)</p>"
    path = report.with_suffix(".html")
    atomic_write_text(path, PAGE.format(title=html.escape(f"Study report: {study.cfg.name}"), root="transcripts/", body=body))
    return path
