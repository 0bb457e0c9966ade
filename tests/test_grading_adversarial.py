"""Issue 36: one reply, one answer. Hedged, ranged, over-specified, self-correcting and wrong-by-a-factor
replies are never graded correct; look-alikes that name one right answer stay correct. Tables in
tests/adversarial_cases.py, by category."""

from __future__ import annotations

import pytest

from distill.grading.grader import grade

from .adversarial_cases import LOOK_ALIKES, NEGATIVES

NEG = [(cat, k, r) for cat, rows in NEGATIVES.items() for k, r in rows]
POS = [(cat, k, r) for cat, rows in LOOK_ALIKES.items() for k, r in rows]


def test_table_sizes():
    assert len(NEG) >= 120 and len(POS) >= 60


@pytest.mark.parametrize("cat, key, reply", NEG, ids=[f"{c}:{k}|{r[:40]}" for c, k, r in NEG])
def test_negative_is_never_correct(cat, key, reply):
    v = grade(key, reply)
    assert v.correct is not True, v


@pytest.mark.parametrize("cat, key, reply", POS, ids=[f"{c}:{k}|{r[:40]}" for c, k, r in POS])
def test_look_alike_stays_correct(cat, key, reply):
    v = grade(key, reply)
    assert v.correct is True, v


def test_rates():
    """The issue's bar: false positives at most 1% of negatives, positives kept at least 97%."""
    fp = sum(grade(k, r).correct is True for _, k, r in NEG)
    kept = sum(grade(k, r).correct is True for _, k, r in POS)
    assert fp / len(NEG) <= 0.01, fp
    assert kept / len(POS) >= 0.97, kept


@pytest.mark.parametrize("key, reply, names", [
    ("10", "Answer: 10 or 12", "10 and 12"),
    ("10", "Answer: 10, 12", "10 and 12"),
    ("C", "The answer is (C) or (D).", "C and D"),
])
def test_a_hedge_is_wrong_with_its_reason(key, reply, names):
    v = grade(key, reply)
    assert v.correct is False and v.method == "hedged" and v.reason == f"hedged: names {names}", v


@pytest.mark.parametrize("reply", ["Final answer: 10 to 12", r"Final answer: 10 \pm 2", "The answer is between 10 and 12.",
                                   "The number of ways is at least 10."])
def test_ranges_are_hedges(reply):
    v = grade("10", reply)
    assert v.correct is False and v.method == "hedged" and v.reason.startswith("hedged"), v


def test_a_later_answer_overrides_an_earlier_one():
    reply = r"So \boxed{6} ... wait, it is \boxed{7}"
    assert grade("7", reply).correct is True
    assert grade("6", reply).correct is False


@pytest.mark.parametrize("key, right, wrong", [
    ("2,5", "Final answer: 2, 5", "Final answer: 2.5"),   # a key that lists two roots, whatever its spacing
    ("2, 5", "Final answer: 2,5", "Final answer: 2.5"),
    (r"\{1, 2\}", "Final answer: 2 and 1", "Final answer: 1.2"),
    ("2.5", "Final answer: 2.5", "Final answer: 2, 5"),   # a decimal key is never a list
])
def test_keys_with_several_values_are_their_set(key, right, wrong):
    assert grade(key, right).correct is True
    assert grade(key, wrong).correct is not True


@pytest.mark.parametrize("key, reply", [("3", "Final answer: 3x"), ("17", "Final answer: 17n + 1"), ("12", r"\boxed{12 + m}")])
def test_math_verify_decides_only_on_a_parse_of_the_whole_answer(key, reply):
    assert grade(key, reply).correct is False


def test_math_verify_never_reads_the_whole_reply():
    # the key's value appears in a working line; the answer states another value
    reply = "We first find 10 as the midpoint.\n\nFinal answer: 12"
    v = grade("10", reply)
    assert v.correct is False and v.extracted == "12", v
