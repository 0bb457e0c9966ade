"""The hashed 8-gram index finds exactly what a plain word-tuple index finds."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from distill.corpus.decontaminate import find_contamination, ngrams, words
from distill.problems.schema import Problem

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def reference(train, evaluation, n=8, threshold=0.5):
    """The definition, written plainly: word-tuple n-grams, every pair of problems compared."""
    out = []
    for p in train:
        toks = words(p.text)
        same = [e.id for e in evaluation if words(e.text) == toks and e.id != p.id]
        if same:
            out.append((p.id, same[0], 1.0, True))
            continue
        grams = ngrams(toks, n)
        if not grams:
            continue
        shared = defaultdict(int)
        for e in evaluation:
            if e.id != p.id:
                k = len(grams & ngrams(words(e.text), n))
                if k:
                    shared[e.id] = k
        if shared:
            eid, k = max(shared.items(), key=lambda kv: (kv[1], kv[0]))
            if k / len(grams) >= threshold:
                out.append((p.id, eid, round(k / len(grams), 3), False))
    return out


def found(train, evaluation):
    return [(c.problem_id, c.eval_id, c.overlap, c.exact) for c in find_contamination(train, evaluation)]


def synthetic(seed: int):
    """Evaluation problems, and training problems that copy, paraphrase, extend or ignore them."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(60)]

    def text(k):
        return " ".join(rng.choice(vocab) for _ in range(k))

    evaluation = [Problem(id=f"e{i}", source="e", text=text(rng.randint(4, 30)), answer="1") for i in range(40)]
    train = []
    for i in range(120):
        e = rng.choice(evaluation).text.split()
        kind = i % 4
        t = " ".join(e) if kind == 0 else " ".join(e[: len(e) // 2]) + " " + text(10) if kind == 1 else \
            text(5) + " " + " ".join(e) + " " + text(5) if kind == 2 else text(rng.randint(3, 25))
        train.append(Problem(id=f"t{i}", source="t", text=t.upper() if i % 7 == 0 else t, answer="1"))
    return train, evaluation


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_overlaps_match_the_definition(seed):
    train, evaluation = synthetic(seed)
    assert found(train, evaluation) == reference(train, evaluation)
    assert any(not f[3] for f in found(train, evaluation)) and any(f[3] for f in found(train, evaluation))


@pytest.mark.slow  # the plain definition compares every pair: ~13 s
def test_the_real_problem_sets_match_the_definition():
    if not (SHARED / "math500.jsonl").exists():
        pytest.skip("../shared/data is not beside this checkout (an optional extra)")
    from distill.problems.importers import import_paths

    obryan = import_paths([SHARED / "obryan"], source="obryan")
    others = import_paths([SHARED / "math500.jsonl", SHARED / "aime24.jsonl", SHARED / "amc23.jsonl"])
    for train, evaluation in ((obryan[:300], obryan[300:] + others[:200]), (others, obryan)):
        assert found(train, evaluation) == reference(train, evaluation)
