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


@pytest.mark.slow
def test_the_paired_test_is_calibrated_when_there_is_no_difference():
    """Issue 37: two students drawn from the same distribution, 400 times: p < 0.05 in 3-8% of comparisons."""
    import numpy as np

    rng = np.random.default_rng(1)
    hits = 0
    for s in range(400):
        p = rng.beta(2, 3, size=60)  # problem difficulties, shared by both
        a = {f"p{i}": rng.binomial(5, p[i]) / 5 for i in range(60)}
        b = {f"p{i}": rng.binomial(5, p[i]) / 5 for i in range(60)}
        hits += paired_bootstrap(a, b, samples=1000, seed=s)["p_value"] < 0.05
    assert 0.03 <= hits / 400 <= 0.08, hits


@pytest.mark.slow
def test_the_two_level_ci_covers_the_true_mean_about_95_percent_of_the_time():
    """Issue 37: problems of known mean difficulty (0.4), answered in 5 seeded runs: the 95% CI that resamples problems
    and runs covers 0.4 in 92-98% of 400 simulations."""
    import numpy as np

    from distill.evaluation.stats import two_level_ci

    rng = np.random.default_rng(2)
    cover = 0
    for s in range(400):
        p = rng.beta(2, 3, size=60)
        m = rng.binomial(1, np.broadcast_to(p[:, None], (60, 5))).astype(float)
        lo, hi = two_level_ci(m, samples=1000, seed=s)
        cover += lo <= 0.4 <= hi
    assert 0.92 <= cover / 400 <= 0.98, cover


def test_the_summary_ci_resamples_problems_and_runs():
    records = [rec(f"p{i}", k, (i + k) % 3 != 0) for i in range(12) for k in range(3)]
    s = summarise_records(records)
    assert s["ci95"][0] < s["mean"] < s["ci95"][1] and "resamples problems and runs" in s["accuracy_note"]
