"""Comparisons, the length-study table and the markdown report with PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import atomic_write_text

from .evaluate import read_records
from .records import read_summary
from .plots import plot_by_year, plot_length, plot_spread
from .stats import majority, mcnemar, paired_bootstrap, per_problem_scores


def load_eval(path: Path) -> dict[str, Any]:
    if not (path / "summary.json").exists():
        raise DistillError("not an evaluation folder (no summary.json)", path=path)
    return {"path": path, "name": path.name, "summary": read_summary(path).model_dump(mode="json"), "records": read_records(path / "responses.jsonl")}


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def pm(m: float, s: float) -> str:
    return f"{100 * m:.2f} ± {100 * s:.2f}"


def compare_evals(evals: Sequence[dict[str, Any]], a: int = 0, b: int = 1) -> dict[str, Any]:
    """Side-by-side numbers and the paired difference b - a over the problems both evaluated."""
    rows = [{"name": e["name"], "n_problems": e["summary"]["n_problems"], "mean": e["summary"]["mean"], "std": e["summary"]["std"],
             "ci95": e["summary"]["ci95"], "runs": len(e["summary"]["runs"]), "mean_words": e["summary"]["mean_words"]} for e in evals]
    result: dict[str, Any] = {"evaluations": rows}
    if len(evals) >= 2:
        ea, eb = evals[a], evals[b]
        sa, sb = per_problem_scores(ea["records"]), per_problem_scores(eb["records"])
        common = set(sa) & set(sb)
        if not common:
            raise DistillError(f"{ea['name']} and {eb['name']} share no problem: there is nothing to compare pairwise")
        result["paired"] = {"a": ea["name"], "b": eb["name"], "bootstrap": paired_bootstrap(sa, sb),
                            "mcnemar_majority": mcnemar(majority(ea["records"]), majority(eb["records"])),
                            "common_problems": len(common), "only_a": len(set(sa) - common), "only_b": len(set(sb) - common)}
        years = sorted({r.year for r in ea["records"] if r.year is not None and r.problem_id in common})
        by_year = {}
        for y in years:
            ya = per_problem_scores([r for r in ea["records"] if r.year == y and r.problem_id in common])
            yb = per_problem_scores([r for r in eb["records"] if r.year == y and r.problem_id in common])
            by_year[str(y)] = paired_bootstrap(ya, yb, samples=1000)
        result["paired"]["by_year"] = by_year
    return result


def compare_markdown(cmp: dict[str, Any]) -> str:
    lines = ["| evaluation | problems | runs | accuracy (mean ± std) | 95% CI | mean words |", "|---|---|---|---|---|---|"]
    for r in cmp["evaluations"]:
        lines.append(f"| {r['name']} | {r['n_problems']} | {r['runs']} | {pm(r['mean'], r['std'])} | "
                     f"{pct(r['ci95'][0])} – {pct(r['ci95'][1])} | {r['mean_words']:.1f} |")
    if "paired" in cmp:
        p = cmp["paired"]
        bs, mc = p["bootstrap"], p["mcnemar_majority"]
        lines += ["", f"Paired difference {p['b']} − {p['a']} over {bs['n']} common problems: "
                      f"**{100 * bs['diff']:+.2f} points** (95% CI {100 * bs['ci95'][0]:+.2f} to {100 * bs['ci95'][1]:+.2f}; "
                      f"paired bootstrap p = {bs['p_value']:.3g}; McNemar on majority votes: {mc['a_only']} vs {mc['b_only']} discordant, "
                      f"p = {mc['p_value']:.3g})."]
        if p.get("only_a") or p.get("only_b"):
            lines += ["", f"**Note:** the two evaluations cover different problems: {p['only_a']} only in {p['a']}, "
                          f"{p['only_b']} only in {p['b']}; the paired numbers use the {p['common_problems']} they share."]
        if p["by_year"]:
            lines += ["", "| year | problems | difference | 95% CI | p |", "|---|---|---|---|---|"]
            for y, d in p["by_year"].items():
                lines.append(f"| {y} | {d['n']} | {100 * d['diff']:+.2f} | {100 * d['ci95'][0]:+.2f} to {100 * d['ci95'][1]:+.2f} | {d['p_value']:.3g} |")
    return "\n".join(lines) + "\n"


def length_table(levels: dict[str, dict[str, Any]]) -> str:
    lines = ["| level | mean words | accuracy (mean ± std) | runs |", "|---|---|---|---|"]
    for lv, s in levels.items():
        lines.append(f"| {lv} | {s['mean_words']:.1f} | {pm(s['mean'], s['std'])} | {len(s['runs'])} |")
    return "\n".join(lines) + "\n"


def decoding_markdown(evals: Sequence[dict[str, Any]]) -> str:
    """One row per evaluation: what decided its numbers, and the rates that qualify them."""
    lines = ["| evaluation | backend / model | adapter | temperature | top_p | max tokens | thinking budget | samples x runs | seeds | "
             "answer format | truncated | undecided | judged |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in evals:
        s = e["summary"]
        d = s.get("decoding") or {**s.get("backend", {}), **s.get("sampling", {})}
        adapter = d.get("adapter_sha256") or ("yes" if d.get("adapter") else "–")
        model = d.get("model") or d.get("role") or "?"
        seeds = f"{s.get('seed', 0)}..{s.get('seed', 0) + len(s.get('runs', [])) - 1}"
        lines.append(f"| {e['name']} | {d.get('backend', '?')} / {model} | {adapter} | {d.get('temperature')} | {d.get('top_p')} | "
                     f"{d.get('max_tokens')} | {d.get('thinking_budget') or '–'} | {d.get('samples', 1)} x {len(s.get('runs', []))} | {seeds} | "
                     f"{pct(s.get('answer_format_rate', 0))} | {pct(s['truncated_rate'])} | {pct(s['undecided_rate'])} | {pct(s['judge_rate'])} |")
    return "\n".join(lines)


def write_report(evals: Sequence[dict[str, Any]], out: Path, *, length_study: dict[str, Any] | None = None, title: str = "distill evaluation report") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.stem
    parts = [f"# {title}", "", "Accuracy counts undecided verdicts as wrong; ± is the sample standard deviation over runs.", ""]
    if evals:
        parts += ["## Headline", "", compare_markdown(compare_evals(evals)), ""]
        spread = plot_spread(evals, out.parent / f"{stem}_spread.png")
        parts += [f"![per-run spread]({spread.name})", ""]
        by_year = plot_by_year(evals, out.parent / f"{stem}_by_year.png")
        if by_year:
            parts += ["## Accuracy by year", "", f"![accuracy by year]({by_year.name})", ""]
            years = sorted({y for e in evals for y in e["summary"]["by_year"]})
            parts.append("| year | " + " | ".join(e["name"] for e in evals) + " |")
            parts.append("|---|" + "---|" * len(evals))
            for y in years:
                parts.append(f"| {y} | " + " | ".join(pm(e["summary"]["by_year"][y]["mean"], e["summary"]["by_year"][y]["std"])
                                                    if y in e["summary"]["by_year"] else "–" for e in evals) + " |")
            parts.append("")
        for key, label in (("by_section", "section"), ("by_subject", "subject"), ("by_difficulty", "level")):
            values = sorted({v for e in evals for v in e["summary"].get(key, {})})
            if values:
                parts += [f"## Accuracy by {label}", "", f"| {label} | " + " | ".join(e["name"] for e in evals) + " |", "|---|" + "---|" * len(evals)]
                for v in values:
                    parts.append(f"| {v} | " + " | ".join(pm(e["summary"][key][v]["mean"], e["summary"][key][v]["std"]) if v in e["summary"].get(key, {}) else "–"
                                                        for e in evals) + " |")
                parts.append("")
        parts += ["## Runs and decoding setup", "", decoding_markdown(evals), ""]
    if length_study:
        plot = plot_length(length_study["levels"], out.parent / f"{stem}_length.png")
        parts += ["## Length study", "", length_table(length_study["levels"]), "", f"![accuracy against length]({plot.name})", ""]
    atomic_write_text(out, "\n".join(parts) + "\n")
    return out
