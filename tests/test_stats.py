"""Statistics on constructed data with known answers."""

from __future__ import annotations

import math

import pytest

from distill.evaluation.records import ResponseRecord
from distill.grading.grader import Verdict
from distill.usage import Usage
from distill.evaluation.stats import (
    bootstrap_ci,
    grouped_accuracy,
    mcnemar,
    mean_std,
    paired_bootstrap,
    summarise_records,
)


def rec(pid, run, correct, year=2020, words=10, finish="stop", method="math_verify"):
    return ResponseRecord(problem_id=pid, run=run, seed=run, level="R1", source="t", year=year, section="s", key="1", response="x " * words,
                          words=words, usage=Usage(completion_tokens=words), finish_reason=finish, verdict=Verdict(correct=correct, method=method))


def test_mean_std_is_sample_std():
    m = mean_std([0.6, 0.8])
    assert m["mean"] == pytest.approx(0.7) and m["std"] == pytest.approx(math.sqrt(0.02))
    assert mean_std([0.5])["std"] == 0.0


def test_bootstrap_ci_of_constant_and_of_a_coin():
    assert bootstrap_ci([1.0] * 20) == (1.0, 1.0)
    lo, hi = bootstrap_ci([1.0] * 50 + [0.0] * 50, samples=4000)
    assert lo < 0.5 < hi and 0.38 < lo < 0.44 and 0.56 < hi < 0.62  # normal approx: 0.5 ± 1.96*0.05


def test_paired_bootstrap_known_cases():
    a = {f"p{i}": 0.0 for i in range(30)}
    same = paired_bootstrap(a, dict(a))
    assert same["diff"] == 0.0 and same["p_value"] == 1.0
    better = paired_bootstrap(a, {k: 1.0 for k in a})
    assert better["diff"] == 1.0 and better["ci95"] == [1.0, 1.0] and better["p_value"] < 0.01
    half = paired_bootstrap(a, {k: float(i % 2) for i, k in enumerate(a)})
    assert half["diff"] == pytest.approx(0.5) and half["ci95"][0] > 0.2


def test_mcnemar_exact():
    a = {f"p{i}": False for i in range(10)}
    b = {f"p{i}": True for i in range(10)}
    r = mcnemar(a, b)
    assert (r["a_only"], r["b_only"]) == (0, 10) and r["p_value"] == pytest.approx(2 / 1024)
    assert mcnemar(a, a)["p_value"] == 1.0
    mixed = mcnemar({"x": True, "y": False}, {"x": False, "y": True})
    assert mixed["p_value"] == 1.0


def test_summary_counts_undecided_as_wrong():
    records = [rec("a", 0, True), rec("b", 0, None, method="no_answer"), rec("a", 1, True), rec("b", 1, False, finish="length")]
    s = summarise_records(records)
    assert [r["accuracy"] for r in s["runs"]] == [0.5, 0.5] and s["mean"] == 0.5 and s["std"] == 0.0
    assert s["undecided_rate"] == 0.25 and s["truncated_rate"] == 0.25 and s["n_problems"] == 2


def test_grouped_accuracy_by_year():
    records = [rec("a", 0, True, 2020), rec("b", 0, False, 2021), rec("a", 1, False, 2020), rec("b", 1, False, 2021)]
    g = grouped_accuracy(records, "year")
    assert g["2020"]["mean"] == 0.5 and g["2020"]["std"] == pytest.approx(math.sqrt(0.5)) and g["2021"]["mean"] == 0.0
