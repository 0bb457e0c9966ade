"""Statistics over evaluation records: accuracy per run, mean ± std, bootstrap CIs, paired tests.

Accuracy counts an undecided verdict (correct = null) as wrong. Standard deviations are sample
standard deviations over runs (ddof = 1), the "mean ± std over runs" of the study.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
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
    """Percentile bootstrap CI of the mean, resampling problems."""
    if not scores:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(scores)
    means = sorted(sum(scores[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    lo = means[int((1 - level) / 2 * samples)]
    hi = means[min(samples - 1, int((1 + level) / 2 * samples))]
    return (lo, hi)


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
    ci = bootstrap_ci(list(scores.values()))
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
        "accuracy_note": "undecided verdicts (correct = null) and generation errors count as wrong; std is the sample std over runs (ddof=1); "
                         "rerun the evaluation to retry errors",
    }


# --------------------------------------------------------------------------- paired comparison

def paired_bootstrap(a: dict[str, float], b: dict[str, float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Difference of mean accuracy b - a over the problems both evaluated, with a bootstrap CI and
    a two-sided p-value (share of resampled differences on the other side of zero, doubled)."""
    common = sorted(set(a) & set(b))
    if not common:
        return {"n": 0, "diff": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0}
    diffs = [b[p] - a[p] for p in common]
    n = len(diffs)
    observed = sum(diffs) / n
    rng = random.Random(seed)
    boots = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    lo, hi = boots[int(0.025 * samples)], boots[min(samples - 1, int(0.975 * samples))]
    if observed == 0 or all(d == 0 for d in diffs):
        p = 1.0
    else:
        other_side = sum(1 for x in boots if (x <= 0 if observed > 0 else x >= 0))
        p = min(1.0, 2 * (other_side + 1) / (samples + 1))
    return {"n": n, "diff": observed, "ci95": [lo, hi], "p_value": p}


def mcnemar(a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    """Exact McNemar test on paired right/wrong outcomes (two-sided binomial on discordant pairs)."""
    common = set(a) & set(b)
    only_a = sum(1 for p in common if a[p] and not b[p])
    only_b = sum(1 for p in common if b[p] and not a[p])
    k, n = min(only_a, only_b), only_a + only_b
    if n == 0:
        return {"n": len(common), "a_only": 0, "b_only": 0, "p_value": 1.0}
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    return {"n": len(common), "a_only": only_a, "b_only": only_b, "p_value": p}


def majority(records: Iterable[ResponseRecord]) -> dict[str, bool]:
    """problem id -> right in more than half of its responses (every sample of every run counts once)."""
    return {pid: s > 0.5 for pid, s in per_problem_scores(records).items()}
