"""The report's first screen: its table and sentences follow the numbers they are given."""

from __future__ import annotations

import pytest

from distill.study.bought import markdown, spearman, what_it_bought


@pytest.mark.parametrize("xs, ys, rho", [
    ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
    ([1, 2, 3, 4], [40, 30, 20, 10], -1.0),
    ([1, 2, 3], [5, 5, 5], None),  # a constant side has no rank order
    ([53, 33, 19, 17, 12, 9], [50, 35, 18, 18, 11, 9], 0.9856),  # ties get average ranks
])
def test_spearman(xs, ys, rho):
    assert spearman(xs, ys) == rho


def _summary(mean, fmt, words, ci=None):
    return {"mean": mean, "answer_format_rate": fmt, "mean_words": words, "truncated_rate": 0.0, "ci95": ci or [max(0, mean - 0.1), mean + 0.1]}


def _pair(lo, hi):
    return [{"a": "tuned-R6", "b": "tuned-R1", "bootstrap": {"diff": (lo + hi) / 2, "ci95": [lo, hi], "n": 40, "p_value": 0.01}}]


def test_the_sentences_say_what_the_numbers_say():
    ev = {"evaluate:base": _summary(0.0, 0.0, 1.0), "evaluate:tuned:R1": _summary(0.4, 0.9, 50.0), "evaluate:tuned:R6": _summary(0.1, 0.6, 9.0)}
    words = {"R1": {"mean_words": 53.0}, "R6": {"mean_words": 9.0}}
    ahead = what_it_bought(["R1", "R6"], ev, words, _pair(0.1, 0.5))
    assert ahead is not None and ahead.tuned_format_mean == 0.75 and ahead.tuned_format_min == 0.6 and ahead.length_spearman == 1.0
    text = "\n".join(markdown(ahead, "distillation.png"))
    assert "75.0% of responses" in text and "lowest: R6, 60.0%" in text and "R1 is ahead" in text
    assert "| tuned on R1 | 53.0 | 50.0 | 90.0% |" in text
    unclear = "\n".join(what_it_bought(["R1", "R6"], ev, words, _pair(-0.1, 0.2)).sentences)
    assert "cannot tell the levels apart" in unclear and "is ahead" not in unclear
    assert what_it_bought(["R1"], {}, words, []) is None  # nothing evaluated yet: no first screen
