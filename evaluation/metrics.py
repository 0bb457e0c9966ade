"""The field's sampling metrics, over N samples per problem (and over runs):

- avg@N: mean correctness over the samples (the pass@1 estimate);
- maj@N: the majority answer of a run's samples is correct; answers are grouped by a canonical form
  (exact fractions and decimals, sympy forms; not string equality), and a tie goes to the group whose
  canonical form sorts first, so the result is the same whatever the order of the samples;
- pass@k: 1 - C(n - c, k) / C(n, k), the unbiased estimator from n samples with c correct
  (Chen et al. 2021, as lighteval and NeMo-Skills report it).
Each comes with a percentile-bootstrap CI over problems.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from math import comb
from typing import Any

from .stats import bootstrap_ci
from .records import ResponseRecord


Equivalent = Callable[[str, str], bool]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (k <= n)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool | None], equivalent: Equivalent | None = None) -> bool:
    """Whether the most common answer among one run's samples is a correct one. Answers are grouped by their
    canonical form (distill.grading.canonical), so grouping is transitive and the result does not depend on the
    samples' order; a tie between groups goes to the group whose canonical form sorts first (the same every
    time). `equivalent`, when given, groups by that relation instead (first match, in order)."""
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        if equivalent is None:
            from distill.grading.canonical import canonical

            form = canonical(a)
            if form is None:
                continue
        else:
            form = next((f for f, g in groups.items() if equivalent(answers[g[0]], a)), a)  # type: ignore[arg-type]
        groups.setdefault(form, []).append(i)
    if not groups:
        return False
    size = max(len(g) for g in groups.values())
    best = groups[min(f for f, g in groups.items() if len(g) == size)]
    return any(correct[i] is True for i in best)


def sample_metrics(records: Sequence[ResponseRecord], ks: Sequence[int] = (1, 4, 8, 16), *,
                   equivalent: Equivalent | None = None) -> dict[str, Any]:
    """avg@N, maj@N and pass@k per problem (n = every sample of every run), averaged with CIs over problems."""
    by_problem: dict[str, list[ResponseRecord]] = defaultdict(list)
    for r in records:
        by_problem[r.problem_id].append(r)
    if not by_problem:
        return {}
    samples = max(r.sample for r in records) + 1
    avg, maj, passk = [], [], defaultdict(list)
    for rows in by_problem.values():
        n, c = len(rows), sum(r.correct is True for r in rows)
        avg.append(c / n)
        runs: dict[int, list[ResponseRecord]] = defaultdict(list)
        for r in rows:
            runs[r.run].append(r)
        votes = [majority_correct([r.verdict.extracted for r in rs], [r.correct for r in rs], equivalent) for rs in runs.values()]
        maj.append(sum(votes) / len(votes))
        for k in ks:
            if k <= n:
                passk[k].append(pass_at_k(n, c, k))

    def block(values: list[float]) -> dict[str, Any]:
        return {"mean": sum(values) / len(values), "ci95": list(bootstrap_ci(values)), "problems": len(values)}

    out: dict[str, Any] = {"samples_per_run": samples, f"avg@{samples}": block(avg), f"maj@{samples}": block(maj)}
    out["pass@k"] = {str(k): block(v) for k, v in sorted(passk.items()) if len(v) == len(by_problem)}
    return out
