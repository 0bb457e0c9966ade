"""Decontamination: training problems that overlap an evaluation problem (normalised 8-gram overlap,
or the same text after normalisation) are flagged and kept out of training.

overlap(train, eval) = shared n-grams / the train problem's n-grams; a problem shorter than n words
is compared by exact normalised text only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
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


def find_contamination(train: Iterable[Problem], evaluation: Iterable[Problem], *, n: int = DEFAULT_N,
                       threshold: float = DEFAULT_THRESHOLD) -> list[Contamination]:
    """For each training problem, its worst overlap with any evaluation problem, when it reaches the threshold.

    The n-gram index holds hashes, not word tuples, and evaluation problems by position: about 10x less
    memory, and 100k x 10k problems in seconds. Two different n-grams would have to share a 64-bit hash
    to change a result. Each side is read once, in order: neither needs to be a list."""
    eval_ids: list[str] = []
    exact: dict[str, list[int]] = defaultdict(list)
    index: dict[int, int | list[int]] = {}
    for i, e in enumerate(evaluation):
        eval_ids.append(e.id)
        toks = words(e.text)
        exact[" ".join(toks)].append(i)
        for g in hashed_ngrams(toks, n):
            have = index.get(g)
            if have is None:
                index[g] = i
            elif isinstance(have, int):
                if have != i:
                    index[g] = [have, i]
            elif have[-1] != i:
                have.append(i)
    found = []
    for p in train:
        toks = words(p.text)
        same = [eval_ids[i] for i in exact.get(" ".join(toks), []) if eval_ids[i] != p.id]
        if same:
            found.append(Contamination(p.id, same[0], 1.0, True))
            continue
        grams = hashed_ngrams(toks, n)
        if not grams:
            continue
        shared: dict[int, int] = defaultdict(int)
        for g in grams:
            hit = index.get(g)
            if hit is None:
                continue
            for i in (hit,) if isinstance(hit, int) else hit:
                shared[i] += 1
        best = max(((k, eval_ids[i]) for i, k in shared.items() if eval_ids[i] != p.id), default=None)
        if best is not None and best[0] / len(grams) >= threshold:
            found.append(Contamination(p.id, best[1], round(best[0] / len(grams), 3), False))
    return found


def hashed_ngrams(tokens: list[str], n: int) -> set[int]:
    return {hash(tuple(tokens[i:i + n])) for i in range(len(tokens) - n + 1)}
