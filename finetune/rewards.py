"""GRPO's rewards, as mlx-lm-lora calls them (`f(prompts, completions, answer, types) -> [float]`):
correctness is distill's grader on the official key, exactly as `eval grade` decides it without a judge;
the format reward asks for the answer line the student prompt asks for."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from distill.grading.extract import last_boxed

RewardFn = Callable[..., list[float]]
FINAL_LINE = re.compile(r"^\s*Final answer:\s*\\boxed\{")


def correctness_reward(grader, abstain: float = 0.0) -> RewardFn:
    """1 when the grader says correct, 0 when wrong, `abstain` when it cannot decide (no judge here:
    a reward must be cheap and deterministic)."""

    def correct(prompts: Sequence[str], completions: Sequence[str], answer: Sequence[str], types=None) -> list[float]:
        verdicts = grader.grade_many(list(zip(answer, completions)))
        return [1.0 if v.correct else abstain if v.correct is None else 0.0 for v in verdicts]

    return correct


def format_score(text: str) -> float:
    """1 for a last line `Final answer: \\boxed{...}` with something in the box; 0.5 for a non-empty
    `\\boxed{...}` elsewhere (a box the grader can read, in the wrong place); 0 otherwise. No credit for the
    words alone: a policy learns to repeat them."""
    if not last_boxed(text):
        return 0.0
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return 1.0 if FINAL_LINE.match(lines[-1]) and last_boxed(lines[-1]) else 0.5


def format_reward(prompts: Sequence[str], completions: Sequence[str], answer: Sequence[str], types=None) -> list[float]:
    return [format_score(c) for c in completions]


def reward_functions(kind: str, grader, abstain: float, format_weight: float) -> tuple[list[RewardFn], list[float]]:
    """The reward functions and their weights for `--reward`."""
    funcs: list[RewardFn] = []
    weights: list[float] = []
    if kind in ("correct", "correct+format"):
        funcs.append(correctness_reward(grader, abstain))
        weights.append(1.0)
    if kind in ("format", "correct+format"):
        funcs.append(format_reward)
        weights.append(1.0 if kind == "format" else format_weight)
    return funcs, weights
