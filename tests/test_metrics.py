"""Sampling metrics against hand-computed values."""

from __future__ import annotations

import pytest

from distill.evaluation.records import ResponseRecord
from distill.evaluation.metrics import majority_correct, pass_at_k, sample_metrics
from distill.grading.grader import Verdict


def rec(pid: str, run: int, sample: int, correct: bool | None, extracted: str | None) -> ResponseRecord:
    return ResponseRecord(problem_id=pid, run=run, sample=sample, seed=run, level="R1", source="t", key="k", response="r", words=1,
                          finish_reason="stop", verdict=Verdict(correct=correct, extracted=extracted, method="math_verify"))


@pytest.mark.parametrize("n, c, k, expected", [
    (16, 3, 1, 3 / 16),
    (16, 3, 4, 1 - 715 / 1820),      # 1 - C(13,4)/C(16,4)
    (16, 3, 8, 1 - 1287 / 12870),    # 1 - C(13,8)/C(16,8) = 0.9
    (16, 0, 8, 0.0),
    (16, 14, 4, 1.0),                # fewer than k wrong samples: every k-subset holds a correct one
    (4, 2, 4, 1.0),
])
def test_pass_at_k_is_the_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_majority_groups_equivalent_answers_not_strings():
    # 1/2 and 0.5 are one answer (2 votes) against 3 and 4 (1 vote each): the majority is right
    assert majority_correct(["1/2", "3", "0.5", "4"], [True, False, True, False]) is True
    assert majority_correct(["3", "3", "1/2"], [False, False, True]) is False
    assert majority_correct([None, None], [None, None]) is False


def test_sample_metrics_on_a_fixture_with_known_counts():
    records = []
    # problem a: 16 samples in one run, 3 correct (answer 7), the rest say 5 (the majority, wrong)
    for s in range(16):
        records.append(rec("a", 0, s, s < 3, "7" if s < 3 else "5"))
    # problem b: 16 samples, all correct, written as 1/2 or 0.5
    for s in range(16):
        records.append(rec("b", 0, s, True, "1/2" if s % 2 else "0.5"))
    m = sample_metrics(records, ks=(1, 4, 8))
    assert m["samples_per_run"] == 16
    assert m["avg@16"]["mean"] == pytest.approx((3 / 16 + 1) / 2)
    assert m["maj@16"]["mean"] == pytest.approx(0.5)
    assert m["pass@k"]["1"]["mean"] == pytest.approx((3 / 16 + 1) / 2)
    assert m["pass@k"]["4"]["mean"] == pytest.approx((1 - 715 / 1820 + 1) / 2)
    assert m["pass@k"]["8"]["mean"] == pytest.approx((0.9 + 1) / 2)
    lo, hi = m["pass@k"]["8"]["ci95"]
    assert lo <= m["pass@k"]["8"]["mean"] <= hi


def test_majority_is_the_same_whatever_the_order_of_the_samples():
    """Grouping by a canonical form is transitive (0.5 = 1/2 = 2/4 = 50%), and a tie is broken the same way."""
    import itertools

    answers = ["1/2", "0.5", "3", "2/4", "3", "3.0", r"\frac{6}{2}", "10 or 12", None]
    correct = [a in ("1/2", "0.5", "2/4") for a in answers]
    for subset in itertools.combinations(range(len(answers)), 5):
        outs = {majority_correct([answers[i] for i in p], [correct[i] for i in p]) for p in itertools.permutations(subset)}
        assert len(outs) == 1, [answers[i] for i in subset]


def test_a_tie_goes_to_the_same_group_every_time():
    assert majority_correct(["4", "7"], [True, False]) == majority_correct(["7", "4"], [False, True])
    assert majority_correct(["2, 3", "2,3", "5"], [False, False, True]) is False  # a hedge's text is its own group


def test_canonical_forms():
    from distill.grading.canonical import canonical

    assert canonical("1/2") == canonical("0.5") == canonical(r"\frac{2}{4}") == canonical("50%")
    assert canonical("3") == canonical("3.0") != canonical("3x")
    assert canonical(r"2\sqrt{2}") == canonical(r"\sqrt{8}")
    assert canonical("10 or 12") != canonical("10") and canonical(None) is None
