"""Grading by class of case (tests/grading_cases.py), against math-verify alone, and the
self-consistency of the real benchmark keys in ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
import re

import pytest

from distill.demo.fixtures import perturb
from distill.grading.extract import last_boxed
from distill.grading.grader import grade

from .grading_cases import CLASSES

ROWS = [(cls, *row) for cls, rows in CLASSES.items() for row in rows]


def math_verify_alone(key: str, reply: str) -> bool | None:
    """Bare math-verify, as other projects use it: parse the gold as LaTeX, the reply as it is."""
    from math_verify import parse, verify

    try:
        gold, pred = parse(f"${key}$"), parse(reply)
        return bool(verify(gold, pred)) if gold and pred else None
    except Exception:
        return None


@pytest.mark.parametrize("cls, key, reply, expected", ROWS, ids=[f"{r[0]}:{r[1]}|{r[2][:40]}" for r in ROWS])
def test_case(cls, key, reply, expected):
    v = grade(key, reply)
    assert v.correct is expected, v
    if v.extracted is not None:
        assert v.method and v.reason  # the evidence travels with the verdict


@pytest.mark.slow
def test_never_below_math_verify_alone():
    """Where bare math-verify gets a case right, distill does too; overall agreement at least 99.5%."""
    worse = []
    for cls, key, reply, expected in ROWS:
        mv = math_verify_alone(key, reply)
        ours = grade(key, reply).correct
        if mv is expected and ours is not expected:
            worse.append((cls, key, reply))
    assert worse == []
    agree = sum(grade(k, r).correct is e for _, k, r, e in ROWS) / len(ROWS)
    assert agree >= 0.995


def _plain(answer: str) -> str:
    """A plain-text rendering of a LaTeX gold answer, as a chat model might type it."""
    s = re.sub(r",\\!\s*", ",", answer).replace(r"\!", "").replace(r"\$", "")
    s = re.sub(r"^(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$", r"\1 \2/\3", s)
    s = re.sub(r"\\(?:text|mbox|mathrm)\{\s*([^{}]*)\}", r" \1", s)
    for _ in range(3):
        s = re.sub(r"\\[dt]?frac\{(\d+)\}\{(\d+)\}", r"\1/\2", s)
        s = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", s)
        s = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", s)
    s = s.replace(r"\pi", "pi").replace(r"\left", "").replace(r"\right", "").replace("{,}", ",")
    return " ".join(s.split())


@pytest.mark.slow
@pytest.mark.shared_data
def test_math500_keys_are_self_consistent(shared_data):
    """Every MATH-500 answer equals its own solution's boxed answer and a plain-text rendering of itself,
    and never equals a perturbed value."""
    rows = [json.loads(line) for line in (shared_data / "math500.jsonl").read_text().splitlines()]
    assert len(rows) == 500
    bad = []
    for r in rows:
        a = r["answer"]
        for reply, want in ((rf"\boxed{{{last_boxed(r['solution'])}}}", True), (rf"\boxed{{{_plain(a)}}}", True),
                            (rf"\boxed{{{perturb(a)}}}", False)):
            if grade(a, reply).correct is not want:
                bad.append((a, reply, want))
    assert bad == []


@pytest.mark.shared_data
@pytest.mark.parametrize("name, count", [("aime24.jsonl", 30), ("amc23.jsonl", 40)])
def test_aime_and_amc_keys_are_self_consistent(shared_data, name, count):
    rows = [json.loads(line) for line in (shared_data / name).read_text().splitlines()]
    assert len(rows) == count
    bad = []
    for r in rows:
        key = str(r["answer"])
        value = str(int(float(key)))  # AIME's "025", AMC's 27.0: the value a model writes
        for reply, want in ((rf"\boxed{{{value}}}", True), (f"The answer is {value}.", True), (rf"\boxed{{{int(value) + 1}}}", False)):
            if grade(key, reply).correct is not want:
                bad.append((key, reply, want))
    assert bad == []
