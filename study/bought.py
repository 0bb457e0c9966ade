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
    conditioned: list[LevelRow] = []  # one length-conditioned student, asked for each level
    conditioned_spearman: float | None = None  # its response words against the asked level's training words


class CostRow(BaseModel):
    """One student on the accuracy-per-token frontier."""

    model_config = ConfigDict(extra="forbid")

    name: str
    mean_tokens: float
    accuracy: float
    tokens_per_correct: float | None
    dominated: bool  # another student is as accurate for no more tokens, and better on one of the two


def frontier(evaluations: dict[str, dict[str, Any]]) -> list[CostRow]:
    """Every evaluated student (base, per-level, mixes, the conditioned student at each level, teacher) by
    tokens per correct answer (students with none correct last), each marked dominated or on the frontier."""
    pts = []
    for key, s in evaluations.items():
        if key.startswith("evaluate:math500"):
            continue
        name = key.removeprefix("evaluate:").replace("tuned:", "tuned ").replace("conditioned:", "conditioned, asked ")
        pts.append((name, float(s.get("mean_tokens", 0.0)), float(s["mean"]), s.get("tokens_per_correct")))
    rows = []
    for name, t, a, tpc in pts:
        dom = any((t2 <= t and a2 >= a) and (t2 < t or a2 > a) for n2, t2, a2, _ in pts if n2 != name)
        rows.append(CostRow(name=name, mean_tokens=round(t, 1), accuracy=a, tokens_per_correct=round(tpc, 1) if tpc else None, dominated=dom))
    return sorted(rows, key=lambda r: (r.tokens_per_correct is None, r.tokens_per_correct or 0.0, r.name))


def frontier_markdown(rows: list[CostRow], plot_name: str | None) -> list[str]:
    lines = ["## Accuracy per token", "",
             "Every student by completion tokens per correct answer (all tokens generated over the correct answers); "
             "*dominated*: another student is at least as accurate for no more tokens.", "",
             "| student | mean completion tokens | accuracy % | tokens per correct | frontier |", "|---|---|---|---|---|"]
    for r in rows:
        tpc = f"{r.tokens_per_correct:.0f}" if r.tokens_per_correct else "– (none correct)"
        lines.append(f"| {r.name} | {r.mean_tokens:.1f} | {100 * r.accuracy:.1f} | {tpc} | {'dominated' if r.dominated else '**on the frontier**'} |")
    lines.append("")
    if plot_name:
        lines += [f"![accuracy against mean completion tokens]({plot_name})", ""]
    return lines


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (scipy.stats.spearmanr, average ranks for ties); None when either side is constant."""
    if len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    from scipy.stats import spearmanr

    return round(float(spearmanr(xs, ys).statistic), 4)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _rows(levels: list[str], evaluations: dict[str, dict[str, Any]], prefix: str, words: dict[str, float]) -> list[LevelRow]:
    rows = []
    for lv in levels:
        s = evaluations.get(f"{prefix}{lv}")
        if s is None:
            continue
        rows.append(LevelRow(level=lv, training_words=float(words.get(lv, 0.0)), response_words=s["mean_words"],
                             answer_format_rate=s.get("answer_format_rate", 0.0), truncated_rate=s["truncated_rate"], accuracy=s["mean"],
                             ci95=list(s.get("ci95", [s["mean"], s["mean"]]))))
    return rows


def what_it_bought(levels: list[str], evaluations: dict[str, dict[str, Any]], level_words: dict[str, dict[str, Any]],
                   significance: list[dict[str, Any]], conditioned_words: dict[str, float] | None = None) -> Bought | None:
    """The table and its reading, from the evaluation summaries; None before any tuned level is evaluated.
    `conditioned_words`: the conditioned student's training words per level (its export's), when there is one."""
    words = {lv: float(level_words.get(lv, {}).get("mean_words", 0.0)) for lv in levels}
    rows = _rows(levels, evaluations, "evaluate:tuned:", words)
    dial = _rows(["R1", "R2", "R3", "R4", "R5", "R6"], evaluations, "evaluate:conditioned:", conditioned_words or {}) if conditioned_words else []
    if not rows and not dial:
        return None
    shown = rows or dial  # only the conditioned student trained: its rows carry the form and length sentences
    b = evaluations.get("evaluate:base")
    base = None if b is None else {"response_words": b["mean_words"], "answer_format_rate": b.get("answer_format_rate", 0.0),
                                   "truncated_rate": b["truncated_rate"], "accuracy": b["mean"]}
    fmt = [r.answer_format_rate for r in shown]
    rho = spearman([r.training_words for r in shown], [r.response_words for r in shown])
    weakest = min(shown, key=lambda r: r.answer_format_rate)
    said = [f"**Form.** The tuned students end their answers in the taught form (`Final answer: \\boxed{{...}}`) in {_pct(sum(fmt) / len(fmt))} "
            f"of responses on average over {', '.join(r.level for r in shown)} (lowest: {weakest.level}, {_pct(weakest.answer_format_rate)})"
            + (f"; the untrained base in {_pct(base['answer_format_rate'])}." if base else ".")]
    if rho is not None:
        said.append(f"**Length.** Their response length follows the texts they were trained on: Spearman {rho:+.2f} across levels "
                    f"({shown[0].level} {shown[0].training_words:.0f} training words -> {shown[0].response_words:.0f} in answers; "
                    f"{shown[-1].level} {shown[-1].training_words:.0f} -> {shown[-1].response_words:.0f})"
                    + (f"; the base writes {base['response_words']:.0f} word(s) a response, cut at the token limit in "
                       f"{_pct(base['truncated_rate'])} of responses." if base else "."))
    said.append(_accuracy_sentence(shown, base, significance))
    dial_rho = spearman([r.training_words for r in dial], [r.response_words for r in dial]) if dial else None
    if dial:
        worst = min(dial, key=lambda r: r.answer_format_rate)
        off = max(dial, key=lambda r: abs(r.response_words - r.training_words) / max(r.training_words, 1))
        said.append(f"**The dial.** One student trained on every level and asked for each: its response length follows the asked level"
                    f" with Spearman {dial_rho:+.2f} ({dial[0].level} asked: {dial[0].response_words:.0f} words, {dial[-1].level}: "
                    f"{dial[-1].response_words:.0f}); the farthest from its level's training words is {off.level} "
                    f"({off.response_words:.0f} against {off.training_words:.0f}); answer format at least {_pct(worst.answer_format_rate)} "
                    f"at every level ({worst.level} lowest)." if dial_rho is not None else
                    "**The dial.** The conditioned student writes the same length whatever level it is asked for.")
    return Bought(levels=rows, base=base, tuned_format_mean=round(sum(fmt) / len(fmt), 4), tuned_format_min=min(fmt), length_spearman=rho,
                  sentences=said, conditioned=dial, conditioned_spearman=dial_rho)


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
    for who, rows in (("tuned on", bought.levels), ("one student asked for", bought.conditioned)):
        for r in rows:
            lines.append(f"| {who} {r.level} | {r.training_words:.1f} | {r.response_words:.1f} | {_pct(r.answer_format_rate)} | "
                         f"{_pct(r.truncated_rate)} | {100 * r.accuracy:.1f} ({100 * r.ci95[0]:.1f}–{100 * r.ci95[1]:.1f}) |")
    lines += ["", *(f"- {s}" for s in bought.sentences), ""]
    if plot_name:
        lines += [f"![response words and answer format per level]({plot_name})", ""]
    return lines
