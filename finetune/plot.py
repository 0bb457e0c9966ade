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


def plot_groups(metrics: list[dict[str, Any]], out: Path, title: str = "GRPO") -> Path | None:
    """Per step: the share of zero-variance groups (no gradient), the share cut at the length limit, the mean
    reward, and the mean completion length on a second axis."""
    steps = [m for m in metrics if m["kind"] == "step"]
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [m["iteration"] for m in steps]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(xs, [m["zero_variance_share"] for m in steps], label="zero-variance groups (no gradient)", color="#C44E52")
    ax.plot(xs, [m["truncated_share"] for m in steps], label="cut at the length limit", color="#8172B2", linestyle="--")
    ax.plot(xs, [m["reward_mean"] for m in steps], label="mean reward", color="#4C72B0")
    ax.set_ylim(-0.05, max(1.05, max(m["reward_mean"] for m in steps) + 0.05))
    ax.set_xlabel("step")
    ax.set_ylabel("share / reward")
    ax2 = ax.twinx()
    ax2.plot(xs, [m["completion_tokens_mean"] for m in steps], label="mean completion tokens", color="#55A868", alpha=0.7)
    ax2.set_ylabel("tokens")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], fontsize=8, loc="upper right")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
