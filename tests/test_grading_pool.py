"""Bounded time, threads, asyncio and the real answer keys."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from distill.grading.grader import grade
from distill.grading.pool import Grader


@pytest.fixture(scope="module")
def grader():
    with Grader(workers=2, timeout_s=3.0) as g:
        yield g


@pytest.mark.slow
def test_power_tower_returns_undecided_within_the_bound(grader):
    v = grader.grade("17", r"The answer is \boxed{9^{9^{9^{9}}}}")
    assert v.correct is None and v.method == "timeout"
    assert v.extracted == "9^{9^{9^{9}}}"  # the evidence survives the timeout
    # the pool replaced the worker and goes on grading
    assert grader.grade("17", r"\boxed{17}").correct is True


def test_5000_character_expression_is_undecided_fast(grader):
    big = "+".join(f"{i}x^{i}" for i in range(700))[:5000]
    v = grader.grade("17", rf"\boxed{{{big}}}")
    assert v.correct is None and v.method in ("too_long", "timeout")


def test_grading_from_threads_and_asyncio(grader):
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(grader.grade("√130", r"\boxed{\sqrt{130}}"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [v.correct for v in results] == [True, True, True]

    async def many():
        return await asyncio.gather(*(grader.agrade("2/3", rf"\boxed{{\frac{{{n}}}{{3}}}}") for n in (2, 4, 1)))

    assert [v.correct for v in asyncio.run(many())] == [True, False, False]


def test_grade_many_keeps_order_and_matches_inline(grader):
    pairs = [("6:7", r"\boxed{6:7}"), ("6:7", r"\boxed{7:6}"), ("NEVER", "Final answer: never"), ("17", "Let me think.\nI could not finish.")]
    assert [v.correct for v in grader.grade_many(pairs)] == [grade(k, r).correct for k, r in pairs] == [True, False, True, None]


@pytest.mark.slow
@pytest.mark.shared_data
def test_every_obryan_key_matches_itself_and_not_a_perturbation(shared_data):
    from distill.demo.fixtures import perturb

    keys = [q["answer"] for f in sorted((shared_data / "obryan").glob("*.json")) for s in json.loads(f.read_text()).values() for q in s.values()]
    assert len(keys) == 671
    bad = [k for k in keys if grade(k, rf"\boxed{{{k}}}").correct is not True or grade(k, f"Final answer: {k}").correct is not True]
    wrong = [k for k in keys if grade(k, rf"\boxed{{{perturb(k)}}}").correct is not False]
    assert bad == [] and wrong == []


DEGENERATE = {  # ~32k tokens of the loops a degenerate student produces at its length limit
    "nested boxes": "\\boxed{" * 20000 + "1" + "}" * 20000,
    "unclosed boxes": "\\boxed{" * 20000,
    "braces": "{" * 60000,
    "dollars": "$" * 120000,
    "left parens": "\\left(" * 25000,
    "answer-is loop": "the answer is " * 10000,
    "final-answer loop": "Final answer: 1 " * 10000,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_replies_are_graded_within_the_bound(name):
    """Issue 43: extraction is linear and the bound covers it: no degenerate reply reaches the time bound, and
    none is graded correct."""
    with Grader(workers=1, timeout_s=10.0) as g:
        v = g.grade("17", DEGENERATE[name])
        many = g.grade_many([("17", DEGENERATE[name])])[0]
    assert v.method != "timeout" and many.method != "timeout", v
    assert v.correct is not True and many.correct is not True


def test_a_reply_past_the_reading_cap_is_undecided_with_its_reason():
    from distill.grading.extract import MAX_REPLY_CHARS

    v = grade("17", "x" * (MAX_REPLY_CHARS + 1) + "\\boxed{17}")
    assert v.correct is None and "reply too long" in v.reason
