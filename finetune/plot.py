"""loss.png: training and validation loss against iteration, the best point marked; reward.png the same
for GRPO's mean reward."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_losses(metrics: list[dict[str, Any]], out: Path, best_iteration: int | None, title: str = "LoRA fine-tuning") -> Path:
    return _plot(metrics, out, best_iteration, title, ("train_loss", "val_loss"), "loss")


def plot_rewards(metrics: list[dict[str, Any]], out: Path, best_iteration: int | None, title: str = "GRPO") -> Path:
    return _plot(metrics, out, best_iteration, title, ("train_total_rewards_mean", "val_total_rewards_mean"), "mean reward",
                 band="train_total_rewards_std")


def _plot(metrics: list[dict[str, Any]], out: Path, best_iteration: int | None, title: str, keys: tuple[str, str], what: str,
          band: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(m["iteration"], m[keys[0]], m.get(band, 0.0) if band else 0.0) for m in metrics if m["kind"] == "train" and keys[0] in m]
    val = [(m["iteration"], m[keys[1]]) for m in metrics if m["kind"] == "val" and keys[1] in m]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        xs, ys, sd = zip(*train)
        ax.plot(xs, ys, label=f"train {what}", color="#4C72B0", linewidth=1.5)
        if band:
            ax.fill_between(xs, [y - s for y, s in zip(ys, sd)], [y + s for y, s in zip(ys, sd)], color="#4C72B0", alpha=0.15, label="± std")
    if val:
        ax.plot(*zip(*val), label=f"validation {what}", color="#DD8452", marker="o", markersize=4, linewidth=1.5)
    best = [v for v in val if v[0] == best_iteration]
    if best:
        ax.scatter([best[0][0]], [best[0][1]], s=140, facecolors="none", edgecolors="#C44E52", linewidths=2, zorder=5,
                   label=f"best: iter {best[0][0]}, val {best[0][1]:.3f} (kept)")
        ax.axvline(best[0][0], color="#C44E52", linestyle=":", linewidth=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel(what)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out.with_name(out.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out
