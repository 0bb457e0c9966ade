"""loss.png: training and validation loss against iteration, the best point marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_losses(metrics: list[dict[str, Any]], out: Path, best_iteration: int | None, title: str = "LoRA fine-tuning") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(m["iteration"], m["train_loss"]) for m in metrics if m["kind"] == "train"]
    val = [(m["iteration"], m["val_loss"]) for m in metrics if m["kind"] == "val"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train), label="train loss", color="#4C72B0", linewidth=1.5)
    if val:
        ax.plot(*zip(*val), label="validation loss", color="#DD8452", marker="o", markersize=4, linewidth=1.5)
    best = [v for v in val if v[0] == best_iteration]
    if best:
        ax.scatter([best[0][0]], [best[0][1]], s=140, facecolors="none", edgecolors="#C44E52", linewidths=2, zorder=5,
                   label=f"best: iter {best[0][0]}, val {best[0][1]:.3f} (kept)")
        ax.axvline(best[0][0], color="#C44E52", linestyle=":", linewidth=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out.with_name(out.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out
