"""Statistics over evaluation records: accuracy per run, mean ± std, bootstrap CIs, paired tests.

Accuracy counts an undecided verdict (correct = null) as wrong. Standard deviations are sample
standard deviations over runs (ddof = 1), the "mean ± std over runs" of the study.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from .records import ResponseRecord


BOOTSTRAP_SAMPLES = 2000


def mean_std(values: Sequence[float]) -> dict[str, float]:
    vals = list(values)
    if not vals:
        return {"mean": 0.0, "std": 0.0, "runs": 0}
    return {"mean": statistics.fmean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "runs": len(vals)}


def per_problem_scores(records: Iterable[ResponseRecord]) -> dict[str, float]:
    """problem id -> share of its responses (every sample of every run) that are correct."""
    hits: dict[str, list[int]] = defaultdict(list)
    for r in records:  # every sample of every run counts: a problem's score is its share of correct answers
        hits[r.problem_id].append(1 if r.correct is True else 0)
    return {pid: sum(v) / len(v) for pid, v in hits.items()}


def bootstrap_ci(scores: Sequence[float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling problems (scipy.stats.bootstrap, vectorised)."""
    if not scores:
        return (0.0, 0.0)
    x = np.asarray(scores, dtype=float)
    if len(x) < 2 or np.all(x == x[0]):
        return (float(x.mean()), float(x.mean()))
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.mean, confidence_level=level, n_resamples=samples, method="percentile", random_state=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def two_level_ci(matrix: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean accuracy over problems and runs from a two-level bootstrap: each replicate draws
    problems with replacement and, independently, runs with replacement, so the interval carries run-to-run spread
    as well as problem-to-problem spread. `matrix[p, r]` is problem p's accuracy in run r (vectorised with numpy)."""
    m = np.asarray(matrix, dtype=float)
    n_p, n_r = m.shape
    if n_p == 0:
        return (0.0, 0.0)
    if np.all(m == m.flat[0]):
        return (float(m.flat[0]), float(m.flat[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    step = max(1, 4_000_000 // max(1, n_p * n_r))  # replicates per block: bounded memory at any size
    for start in range(0, samples, step):
        b = min(step, samples - start)
        pi = rng.integers(0, n_p, size=(b, n_p))
        ri = rng.integers(0, n_r, size=(b, n_r))
        means[start:start + b] = m[pi[:, :, None], ri[:, None, :]].mean(axis=(1, 2))
    centre = float(m.mean())
    if n_r > 1 and n_p > 1:
        # Resampling problems and runs independently counts the problem-by-run noise three times where the estimator
        # has it once (Owen 2007, "the pigeonhole bootstrap"): take the two extra shares, estimated by the two-way
        # ANOVA residual mean square, out of the replicates' spread (shrinking them about the mean keeps their shape).
        resid = m - m.mean(axis=1, keepdims=True) - m.mean(axis=0, keepdims=True) + centre
        mse = float((resid ** 2).sum() / ((n_p - 1) * (n_r - 1)))
        boot_var = float(means.var(ddof=1))
        if boot_var > 0:
            target = max(boot_var - 2 * (n_r - 1) / n_r * mse / (n_p * n_r), boot_var * 0.25)
            means = centre + (means - centre) * np.sqrt(target / boot_var)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def run_matrix(records: Sequence[ResponseRecord]) -> np.ndarray:
    """problems x runs: each problem's share of correct samples in each run (a run a problem lacks counts as 0)."""
    pids = sorted({r.problem_id for r in records})
    runs = sorted({r.run for r in records})
    pi, ri = {p: i for i, p in enumerate(pids)}, {k: j for j, k in enumerate(runs)}
    hits, counts = np.zeros((len(pids), len(runs))), np.zeros((len(pids), len(runs)))
    for r in records:
        counts[pi[r.problem_id], ri[r.run]] += 1
        hits[pi[r.problem_id], ri[r.run]] += r.correct is True
    return np.divide(hits, counts, out=np.zeros_like(hits), where=counts > 0)


def grouped_accuracy(records: Sequence[ResponseRecord], key: str) -> dict[str, dict[str, float]]:
    """Per value of `key`: accuracy in each run, then mean ± std over runs."""
    runs = sorted({r.run for r in records})
    groups: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        value = getattr(r, key)
        if value is None:
            continue
        groups[str(value)][r.run].append(1 if r.correct is True else 0)
    out = {}
    for value, by_run in sorted(groups.items()):
        accs = [sum(by_run[k]) / len(by_run[k]) for k in runs if by_run.get(k)]
        out[value] = {**mean_std(accs), "n": len(next(iter(by_run.values())))}
    return out


def summarise_records(records: Sequence[ResponseRecord]) -> dict[str, Any]:
    """Everything summary.json reports that is computed from responses.jsonl."""
    runs = sorted({r.run for r in records})
    per_run = []
    for k in runs:
        rows = [r for r in records if r.run == k]
        per_run.append({"run": k, "seed": rows[0].seed, "n": len(rows), "correct": sum(r.correct is True for r in rows),
                        "accuracy": sum(r.correct is True for r in rows) / len(rows)})
    scores = per_problem_scores(records)
    ci = two_level_ci(run_matrix(records)) if records else (0.0, 0.0)
    n = len(records) or 1
    ms = mean_std([r["accuracy"] for r in per_run])
    return {
        "n_problems": len(scores),
        "n_responses": len(records),
        "runs": per_run,
        "mean": ms["mean"],
        "std": ms["std"],
        "ci95": list(ci),
        "by_year": grouped_accuracy(records, "year"),
        "by_section": grouped_accuracy(records, "section"),
        "by_subject": grouped_accuracy(records, "subject"),
        "by_difficulty": grouped_accuracy(records, "difficulty"),
        "mean_words": statistics.fmean(r.words for r in records) if records else 0.0,
        "mean_tokens": statistics.fmean(r.usage.completion_tokens for r in records) if records else 0.0,
        "truncated_rate": sum(r.finish_reason == "length" for r in records) / n,
        "error_rate": sum(r.finish_reason == "error" for r in records) / n,
        "undecided_rate": sum(r.correct is None for r in records) / n,
        "judge_rate": sum(r.verdict.method == "judge" for r in records) / n,
        "forced_rate": sum(r.forced for r in records) / n,
        "answer_format_rate": sum(r.verdict.source in ("boxed", "final_answer") for r in records) / n,
        "mean_thinking_words": statistics.fmean(r.thinking_words for r in records) if records else 0.0,
        "mean_answer_words": statistics.fmean(r.answer_words for r in records) if records else 0.0,
        **cost_of_accuracy(records),
        "accuracy_note": "undecided verdicts (correct = null) and generation errors count as wrong; std is the sample std over runs (ddof=1); "
                         "ci95 is a two-level percentile bootstrap that resamples problems and runs; rerun the evaluation to retry errors",
    }


BUDGETS = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


def cost_of_accuracy(records: Sequence[ResponseRecord]) -> dict[str, Any]:
    """What the accuracy cost in tokens: completion tokens per correct answer (None with none correct) and,
    at each budget N up to the longest response, the share of responses correct within N completion tokens."""
    if not records:
        return {"tokens_per_correct": None, "accuracy_at_budget": {}}
    tokens = [r.usage.completion_tokens for r in records]
    correct = sum(r.correct is True for r in records)
    longest = max(tokens)
    budgets = [b for b in BUDGETS if b < longest] + [next((b for b in BUDGETS if b >= longest), longest)]
    at = {str(b): sum(r.correct is True and t <= b for r, t in zip(records, tokens)) / len(records) for b in budgets}
    return {"tokens_per_correct": sum(tokens) / correct if correct else None, "accuracy_at_budget": at}


# --------------------------------------------------------------------------- paired comparison

def paired_bootstrap(a: dict[str, float], b: dict[str, float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Difference of mean accuracy b - a over the problems both evaluated: a percentile bootstrap CI of the paired
    differences (scipy.stats.bootstrap) and a two-sided p-value from a paired permutation test (scipy.stats.
    permutation_test, swapping each problem's pair: exact for up to 2^n <= `samples` arrangements)."""
    common = sorted(set(a) & set(b))
    if not common:
        return {"n": 0, "diff": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0}
    xa = np.array([a[p] for p in common], dtype=float)
    xb = np.array([b[p] for p in common], dtype=float)
    d = xb - xa
    observed = float(d.mean())
    if np.all(d == d[0]):
        lo = hi = observed
    else:
        from scipy.stats import bootstrap

        ci = bootstrap((d,), np.mean, n_resamples=samples, method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
        lo, hi = float(ci.low), float(ci.high)
    if np.all(d == 0):
        p = 1.0
    else:
        from scipy.stats import permutation_test

        res = permutation_test((xb, xa), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples", vectorized=True,
                               n_resamples=samples, alternative="two-sided", random_state=np.random.default_rng(seed))
        p = float(res.pvalue)
    return {"n": len(common), "diff": observed, "ci95": [lo, hi], "p_value": p}


def mcnemar(a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    """Exact McNemar test on paired right/wrong outcomes: a two-sided binomial test on the discordant pairs
    (scipy.stats.binomtest)."""
    common = set(a) & set(b)
    only_a = sum(1 for p in common if a[p] and not b[p])
    only_b = sum(1 for p in common if b[p] and not a[p])
    n = only_a + only_b
    if n == 0:
        return {"n": len(common), "a_only": 0, "b_only": 0, "p_value": 1.0}
    from scipy.stats import binomtest

    return {"n": len(common), "a_only": only_a, "b_only": only_b, "p_value": float(binomtest(only_b, n, 0.5).pvalue)}


def majority(records: Iterable[ResponseRecord]) -> dict[str, bool]:
    """problem id -> right in more than half of its responses (every sample of every run counts once)."""
    return {pid: s > 0.5 for pid, s in per_problem_scores(records).items()}
