"""The report's first screen: what the distillation bought, base against tuned per level, in numbers
and in sentences computed from them (no prose that claims a result the run did not produce)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class LevelRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str
    training_words: float
    response_words: float
    answer_format_rate: float
    truncated_rate: float
    accuracy: float
    ci95: list[float]


class Bought(BaseModel):
    """study.json's `distillation`: the per-level table and the three measures of what training changed."""

    model_config = ConfigDict(extra="forbid")

    levels: list[LevelRow]
    base: dict[str, float] | None
    tuned_format_mean: float
    tuned_format_min: float
    length_spearman: float | None  # tuned response words against training words, across levels
    sentences: list[str]


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (scipy.stats.spearmanr, average ranks for ties); None when either side is constant."""
    if len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    from scipy.stats import spearmanr

    return round(float(spearmanr(xs, ys).statistic), 4)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def what_it_bought(levels: list[str], evaluations: dict[str, dict[str, Any]], level_words: dict[str, dict[str, Any]],
                   significance: list[dict[str, Any]]) -> Bought | None:
    """The table and its reading, from the evaluation summaries; None before any tuned level is evaluated."""
    rows = []
    for lv in levels:
        s = evaluations.get(f"evaluate:tuned:{lv}")
        if s is None:
            continue
        rows.append(LevelRow(level=lv, training_words=float(level_words.get(lv, {}).get("mean_words", 0.0)), response_words=s["mean_words"],
                             answer_format_rate=s.get("answer_format_rate", 0.0), truncated_rate=s["truncated_rate"], accuracy=s["mean"],
                             ci95=list(s.get("ci95", [s["mean"], s["mean"]]))))
    if not rows:
        return None
    b = evaluations.get("evaluate:base")
    base = None if b is None else {"response_words": b["mean_words"], "answer_format_rate": b.get("answer_format_rate", 0.0),
                                   "truncated_rate": b["truncated_rate"], "accuracy": b["mean"]}
    fmt = [r.answer_format_rate for r in rows]
    rho = spearman([r.training_words for r in rows], [r.response_words for r in rows])
    weakest = min(rows, key=lambda r: r.answer_format_rate)
    said = [f"**Form.** The tuned students end their answers in the taught form (`Final answer: \\boxed{{...}}`) in {_pct(sum(fmt) / len(fmt))} "
            f"of responses on average over {rows[0].level}..{rows[-1].level} (lowest: {weakest.level}, {_pct(weakest.answer_format_rate)})"
            + (f"; the untrained base in {_pct(base['answer_format_rate'])}." if base else ".")]
    if rho is not None:
        said.append(f"**Length.** Their response length follows the texts they were trained on: Spearman {rho:+.2f} across levels "
                    f"({rows[0].level} {rows[0].training_words:.0f} training words -> {rows[0].response_words:.0f} in answers; "
                    f"{rows[-1].level} {rows[-1].training_words:.0f} -> {rows[-1].response_words:.0f})"
                    + (f"; the base writes {base['response_words']:.0f} word(s) a response, cut at the token limit in "
                       f"{_pct(base['truncated_rate'])} of responses." if base else "."))
    said.append(_accuracy_sentence(rows, base, significance))
    return Bought(levels=rows, base=base, tuned_format_mean=round(sum(fmt) / len(fmt), 4), tuned_format_min=min(fmt), length_spearman=rho,
                  sentences=said)


def _accuracy_sentence(rows: list[LevelRow], base: dict[str, float] | None, significance: list[dict[str, Any]]) -> str:
    first, last = rows[0], rows[-1]
    text = f"**Accuracy.** {first.level} {_pct(first.accuracy)}, {last.level} {_pct(last.accuracy)}" + (
        f", base {_pct(base['accuracy'])}" if base else "")
    pair = next((c for c in significance if c["a"] == f"tuned-{last.level}" and c["b"] == f"tuned-{first.level}"), None)
    if pair is None or first is last:
        return text + "."
    bs = pair["bootstrap"]
    lo, hi = bs["ci95"]
    verdict = (f"{first.level} is ahead, and the interval excludes no difference" if lo > 0 else
               f"{last.level} is ahead, and the interval excludes no difference" if hi < 0 else
               "the interval includes no difference: at this scale the run cannot tell the levels apart")
    return text + (f": {first.level} - {last.level} = {100 * bs['diff']:+.1f} points over {bs['n']} paired problems "
                   f"(95% CI {100 * lo:+.1f} to {100 * hi:+.1f}, bootstrap p {bs['p_value']:.2g}); {verdict}.")


def markdown(bought: Bought, plot_name: str | None) -> list[str]:
    lines = ["## What the distillation bought", "",
             "| model | training words (mean) | response words (mean) | answer format | truncated | accuracy % (95% CI over problems) |",
             "|---|---|---|---|---|---|"]
    if bought.base:
        b = bought.base
        lines.append(f"| base (untrained) | – | {b['response_words']:.1f} | {_pct(b['answer_format_rate'])} | {_pct(b['truncated_rate'])} | "
                     f"{100 * b['accuracy']:.1f} |")
    for r in bought.levels:
        lines.append(f"| tuned on {r.level} | {r.training_words:.1f} | {r.response_words:.1f} | {_pct(r.answer_format_rate)} | "
                     f"{_pct(r.truncated_rate)} | {100 * r.accuracy:.1f} ({100 * r.ci95[0]:.1f}–{100 * r.ci95[1]:.1f}) |")
    lines += ["", *(f"- {s}" for s in bought.sentences), ""]
    if plot_name:
        lines += [f"![response words and answer format per level]({plot_name})", ""]
    return lines
