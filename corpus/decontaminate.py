"""Decontamination: training problems that overlap an evaluation problem (normalised 8-gram overlap,
or the same text after normalisation) are flagged and kept out of training.

overlap(train, eval) = shared n-grams / the train problem's n-grams; a problem shorter than n words
is compared by exact normalised text only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from distill.problems.schema import Problem

DEFAULT_N = 8
DEFAULT_THRESHOLD = 0.5


def words(text: str) -> list[str]:
    """NFKC, lower case, LaTeX commands and punctuation dropped: `$x^2$` and `x^2` read alike."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"\\[a-z]+", " ", t)
    return re.findall(r"[a-z0-9]+", t)


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class Contamination:
    problem_id: str
    eval_id: str
    overlap: float
    exact: bool

    def as_dict(self) -> dict:
        return asdict(self)


def find_contamination(train: Sequence[Problem], evaluation: Sequence[Problem], *, n: int = DEFAULT_N,
                       threshold: float = DEFAULT_THRESHOLD) -> list[Contamination]:
    """For each training problem, its worst overlap with any evaluation problem, when it reaches the threshold."""
    exact: dict[str, list[str]] = defaultdict(list)
    index: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for e in evaluation:
        toks = words(e.text)
        exact[" ".join(toks)].append(e.id)
        for g in ngrams(toks, n):
            index[g].add(e.id)
    found = []
    for p in train:
        toks = words(p.text)
        same = [e for e in exact.get(" ".join(toks), []) if e != p.id]
        if same:
            found.append(Contamination(p.id, same[0], 1.0, True))
            continue
        grams = ngrams(toks, n)
        if not grams:
            continue
        shared: dict[str, int] = defaultdict(int)
        for g in grams:
            for e in index.get(g, ()):
                if e != p.id:
                    shared[e] += 1
        if shared:
            eid, k = max(shared.items(), key=lambda kv: (kv[1], kv[0]))
            if k / len(grams) >= threshold:
                found.append(Contamination(p.id, eid, round(k / len(grams), 3), False))
    return found
