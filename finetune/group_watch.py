"""GRPO that says when it is not learning: per training step, the share of groups whose rewards are all equal
(their advantages are zero: no gradient), the mean reward, the mean completion length and the share cut at
the length limit; a warning after N flat steps in a row, and a stop there with --stop-when-flat N."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distill.io import append_jsonl

from .callbacks import EarlyStop
from .callbacks import METRICS_SCHEMA_VERSION

log = logging.getLogger("distill.finetune")
WARN_AFTER = 10  # flat steps in a row before the warning, when --stop-when-flat is not given


class FlatStop(EarlyStop):
    """Every group has been zero-variance for N steps in a row (--stop-when-flat N)."""


class GroupWatch:
    """Wraps the reward functions mlx-lm-lora calls (in order, on the same completions) and, once the last of
    them has scored a training batch, writes the step's row (`kind: "step"`) to metrics.jsonl. Validation
    batches (`validating` set around mlx-lm-lora's evaluation) are not steps."""

    def __init__(self, funcs: Sequence[Callable[..., list[float]]], weights: Sequence[float], *, group_size: int, max_tokens: int,
                 count_tokens: Callable[[str], int], out: Path, offset: int = 0, stop_after: int | None = None):
        self.funcs, self.weights = list(funcs), list(weights)
        self.group_size, self.max_tokens, self.count_tokens = group_size, max_tokens, count_tokens
        self.out, self.step, self.stop_after = out, offset, stop_after
        self.flat_run = 0
        self.warned = False
        self.validating = False
        self.rows: list[dict[str, Any]] = []
        self._scores: list[list[float]] = []

    def wrapped(self) -> list[Callable[..., list[float]]]:
        out = []
        for i, f in enumerate(self.funcs):
            def call(prompts, completions, answer, types=None, _f=f, _i=i):
                scores = _f(prompts=prompts, completions=completions, answer=answer, types=types)
                if not self.validating:
                    self._seen(_i, [0.0 if s is None else float(s) for s in scores], completions)
                return scores

            call.__name__ = f.__name__  # mlx-lm-lora names its metrics after the function
            out.append(call)
        return out

    def _seen(self, i: int, scores: list[float], completions: Sequence[str]) -> None:
        if i == 0:
            self._scores = []
        self._scores.append(scores)
        if i == len(self.funcs) - 1:
            self._step_done(completions)

    def _step_done(self, completions: Sequence[str]) -> None:
        totals = [sum(w * col[j] for w, col in zip(self.weights, self._scores)) for j in range(len(completions))]
        groups = [totals[k:k + self.group_size] for k in range(0, len(totals), self.group_size)]
        flat = sum(1 for g in groups if max(g) - min(g) < 1e-9) / len(groups) if groups else 1.0
        # the reward sees text only: lengths are the completions re-encoded, capped at the limit they were generated under
        lengths = [min(self.count_tokens(c), self.max_tokens) for c in completions]
        self.step += 1
        row = {"schema_version": METRICS_SCHEMA_VERSION, "kind": "step", "iteration": self.step, "zero_variance_share": flat,
               "reward_mean": statistics.fmean(totals) if totals else 0.0,
               "completion_tokens_mean": statistics.fmean(lengths) if lengths else 0.0,
               "truncated_share": sum(n >= self.max_tokens for n in lengths) / len(lengths) if lengths else 0.0}
        self.rows.append(row)
        append_jsonl(self.out / "metrics.jsonl", row)
        self.flat_run = self.flat_run + 1 if flat == 1.0 else 0
        limit = self.stop_after or WARN_AFTER
        if self.flat_run >= limit:
            if not self.warned:
                self.warned = True
                log.warning("warning: every group's rewards have been equal for %d steps in a row (step %d): no gradient; "
                            "check the reward, the keys and --max-completion-length%s", self.flat_run, self.step,
                            "; stopping (--stop-when-flat)" if self.stop_after else "; --stop-when-flat N stops there")
            if self.stop_after:
                raise FlatStop(f"flat for {self.flat_run} steps")
