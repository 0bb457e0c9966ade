"""Report figures, drawn to be read: axes from zero, every axis labelled, titles that name what is
shown, labels that never sit on each other, zero-height bars still visible. Each PNG gets a JSON
sidecar (title, axis labels, label boxes) so the figures can be checked by a test."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from distill.io import write_record

LABEL_STEP_PT = 11  # vertical offset between labels of points that sit close together


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class Label(BaseModel):
    text: str
    bbox: list[float]  # x, y, width, height in display pixels


class AxesDescription(BaseModel):
    title: str
    xlabel: str
    ylabel: str
    ylim: list[float]
    labels: list[Label]


class FigureDescription(BaseModel):
    """<figure>.json beside each report PNG: what a reader (or a test) can check without the pixels."""

    schema_version: Literal[1] = 1
    axes: list[AxesDescription]


def describe(fig) -> FigureDescription:
    """Titles, axis labels and the display-space boxes of every text label, per axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return FigureDescription(axes=[
        AxesDescription(title=ax.get_title(), xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel(), ylim=list(ax.get_ylim()),
                        labels=[Label(text=t.get_text(), bbox=list(t.get_window_extent(renderer).bounds)) for t in ax.texts if t.get_text()])
        for ax in fig.axes])


def save(fig, path: Path) -> Path:
    """PNG written atomically, with its `.json` description beside it."""
    fig.tight_layout()
    info = describe(fig)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    _plt().close(fig)
    tmp.replace(path)
    write_record(path.with_suffix(".json"), info)
    return path


def _spread_labels(ax, points: Sequence[tuple[str, float, float]]) -> None:
    """Annotate points; a point close to an earlier one (in display space) gets its label stacked above."""
    placed: list[tuple[float, float]] = []
    trans = ax.transData
    for text, x, y in points:
        px, py = trans.transform((x, y))
        k = sum(1 for qx, qy in placed if abs(qx - px) < 30 and abs(qy - py) < 14)
        placed.append((px, py))
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, 4 + k * LABEL_STEP_PT), fontsize=9)


def _place_labels(fig, ax, points: Sequence[tuple[str, float, float]], tries: int = 16) -> None:
    """Annotate points so that no label covers another: each label starts beside its point and moves up a
    step at a time (in display space, measured with the renderer) until it overlaps no label placed before it."""
    renderer = fig.canvas.get_renderer()
    placed = []
    for text, x, y in sorted(points, key=lambda p: (p[2], p[1])):
        for k in range(tries):
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, 3 + k * LABEL_STEP_PT), fontsize=7)
            ann.set_in_layout(False)
            box = ann.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed) or k == tries - 1:
                placed.append(box)
                break
            ann.remove()


def plot_length(levels: dict[str, dict[str, Any]], path: Path, title: str = "Accuracy against response length") -> Path:
    """Accuracy (95% CI over problems) against mean response words, one labelled point per level."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=110)
    words = [s["mean_words"] for s in levels.values()]
    acc = [100 * s["mean"] for s in levels.values()]
    lo = [100 * (s["mean"] - s.get("ci95", [s["mean"]] * 2)[0]) for s in levels.values()]
    hi = [100 * (s.get("ci95", [s["mean"]] * 2)[1] - s["mean"]) for s in levels.values()]
    ax.errorbar(words, acc, yerr=[lo, hi], marker="o", capsize=4, color="#4C72B0", linestyle="-", label="accuracy, 95% CI")
    ax.set_xlim(0, max(words + [10]) * 1.2)
    ax.set_ylim(0, 100)
    fig.canvas.draw()  # the data-to-display transform is final only after a draw
    _spread_labels(ax, list(zip(levels, words, acc)))
    ax.set_xlabel("mean words per response")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return save(fig, path)


def plot_by_year(evals: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Grouped bars per year and model (mean ± std over runs); a zero is drawn as a mark on the axis."""
    years = sorted({y for e in evals for y in e["summary"]["by_year"]})
    if not years:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.5, len(years) * (0.9 + 0.12 * len(evals)) + 2), 4.4), dpi=110)
    width = 0.8 / len(evals)
    for i, e in enumerate(evals):
        by = e["summary"]["by_year"]
        xs = [j + i * width for j in range(len(years))]
        heights = [100 * by.get(y, {}).get("mean", 0) for y in years]
        bars = ax.bar(xs, heights, width, yerr=[100 * by.get(y, {}).get("std", 0) for y in years], label=e["name"], capsize=2)
        colour = bars.patches[0].get_facecolor()
        zeros = [x for x, h in zip(xs, heights) if h == 0]
        ax.scatter(zeros, [0.8] * len(zeros), marker="_", s=200, color=colour, linewidths=3, zorder=5, clip_on=False)
    ns = {y: max(e["summary"]["by_year"].get(y, {}).get("n", 0) for e in evals) for y in years}
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(years))], [f"{y}\n(n={ns[y]})" for y in years])
    ax.set_ylim(0, 100)
    ax.set_xlabel("competition year (n = problems)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(textwrap.fill("Accuracy by year (mean ± std over runs): " + ", ".join(e["name"] for e in evals), 70), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def plot_spread(evals: Sequence[dict[str, Any]], path: Path) -> Path:
    """Each run's accuracy per model on a 0-100 axis, so no spread looks like no spread."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(min(10, max(5, 1.1 * len(evals) + 2)), 4.2), dpi=110)
    for i, e in enumerate(evals):
        accs = [100 * r["accuracy"] for r in e["summary"]["runs"]]
        ax.scatter([i] * len(accs), accs, alpha=0.7)
        ax.hlines(100 * e["summary"]["mean"], i - 0.25, i + 0.25, color="black")
    ax.set_xticks(range(len(evals)), [e["name"] for e in evals])
    ax.set_ylim(0, 100)
    ax.set_xlabel("model")
    ax.set_ylabel("accuracy per run (%)")
    greedy = all(e["summary"].get("sampling", {}).get("temperature", 1) == 0 for e in evals)
    ax.set_title("Per-run accuracy (line: mean)" + ("; temperature 0: runs repeat exactly" if greedy else ""))
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def plot_val_loss(curves: dict[str, list[tuple[int, float]]], base: dict[str, float | None], path: Path, model: str) -> Path:
    """Validation loss against iteration, one line per level, the base model's held-out loss dashed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for level, points in curves.items():
        if points:
            line, = ax.plot(*zip(*points), marker="o", markersize=3, label=f"{level} student")
            if base.get(level) is not None:
                ax.axhline(base[level], color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation loss (dotted: the base model)")
    ax.set_title(f"Validation loss per level, LoRA on {model}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_distillation(rows: Sequence[dict[str, Any]], base: dict[str, Any] | None, path: Path, model: str,
                      conditioned: Sequence[dict[str, Any]] = ()) -> Path:
    """What training bought, per level: response words (bars: tuned; dots: the texts trained on) and
    answer-format rate (bars: tuned), the untrained base dashed on both; with `conditioned`, the one
    length-conditioned student asked for each level as a second bar beside each level's own student."""
    plt = _plt()
    fig, (words_ax, fmt_ax) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    own = {r["level"]: r for r in rows}
    dial = {r["level"]: r for r in conditioned}
    levels = sorted(set(own) | set(dial), key=lambda lv: (len(lv), lv))
    xs = list(range(len(levels)))
    both = bool(own) and bool(dial)
    w, shift = (0.38, 0.19) if both else (0.6, 0.0)
    for table, dx, colours, label in ((own, -shift, ("#4C72B0", "#55A868"), "per-level student"),
                                      (dial, shift, ("#8172B2", "#CCB974"), "one student asked for the level")):
        at = [(x, table[lv]) for x, lv in zip(xs, levels) if lv in table]
        if not at:
            continue
        words_ax.bar([x + dx for x, _ in at], [r["response_words"] for _, r in at], w, color=colours[0], label=f"{label}: response words")
        fmt_ax.bar([x + dx for x, _ in at], [100 * r["answer_format_rate"] for _, r in at], w, color=colours[1], label=label)
    trained = {**dial, **own}
    words_ax.scatter(xs, [trained[lv]["training_words"] for lv in levels], color="black", zorder=5, label="training texts: words")
    rows = list(trained.values())
    if base:
        words_ax.axhline(base["mean_words"], color="#C44E52", linestyle="--", label=f"base: {base['mean_words']:.0f} words")
        fmt_ax.axhline(100 * base["answer_format_rate"], color="#C44E52", linestyle="--",
                       label=f"base: {100 * base['answer_format_rate']:.0f}%")
    for ax in (words_ax, fmt_ax):
        ax.set_xticks(xs, levels)
        ax.set_xlabel("length level trained on")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    top = max([r["response_words"] for r in [*own.values(), *dial.values()]] + [r["training_words"] for r in rows] + [base["mean_words"] if base else 0] + [1])
    words_ax.set_ylim(0, top * 1.35)
    fmt_ax.set_ylim(0, 118)
    words_ax.set_ylabel("mean words per response")
    fmt_ax.set_ylabel("answer format (% of responses)")
    words_ax.set_title("Response words per level: tuned students and their training texts", fontsize=10)
    fmt_ax.set_title(f"Answer-format rate per level ({model})", fontsize=10)
    return save(fig, path)


def plot_frontier(rows: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Accuracy against mean completion tokens for every student; the frontier joined, dominated students hollow."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    front = sorted((r for r in rows if not r["dominated"]), key=lambda r: r["mean_tokens"])
    if front:
        ax.plot([r["mean_tokens"] for r in front], [100 * r["accuracy"] for r in front], color="#4C72B0", linewidth=1.2, zorder=2,
                label="frontier (not dominated)")
    for r in rows:
        colour = "#8172B2" if r["name"].startswith("conditioned") else "#C44E52" if r["name"] in ("base", "teacher") else "#4C72B0"
        ax.scatter([r["mean_tokens"]], [100 * r["accuracy"]], s=46, zorder=3, edgecolors=colour, linewidths=1.5,
                   facecolors="none" if r["dominated"] else colour)
    labels = [(r["name"].replace("conditioned, asked ", "cond. "), r["mean_tokens"], 100 * r["accuracy"]) for r in rows]
    ax.scatter([], [], s=46, facecolors="none", edgecolors="#555555", label="dominated (hollow)")
    ax.set_xlabel("mean completion tokens per response")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()  # the layout first: labels are placed in its display space and kept out of it
    _place_labels(fig, ax, labels)
    return save(fig, path)
