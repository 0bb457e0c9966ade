"""The deterministic grader: extract an answer, read it into the key's shape, decide.

`grade(key, response)` is the pure core (no time bound; use it in a worker or a test).
`Grader` (in pool.py) runs it under a per-verdict time bound in worker processes.
`correct` is True, False, or None ("could not decide"); None is never turned into True.
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .equality import _rational, scalar_equal
from .extract import extract_answer
from .latex import to_latex, unicode_to_latex
from .normalize import Shape, classify_key, is_wordy, read_answer

VERDICT_SCHEMA_VERSION = 1
TRAILING_CONSTANT = re.compile(r"[+-]\s*[cCkK]\s*$")
MAX_ANSWER_CHARS = 400  # an extracted "answer" longer than this is a derivation, not an answer

Method = Literal[
    "text", "choice", "base", "ratio", "set", "tuple", "math_verify", "sympy", "rounding", "exact_string",
    "judge", "no_answer", "unparseable", "too_long", "timeout", "error",
]


class Verdict(BaseModel):
    """One grading decision with its evidence."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = VERDICT_SCHEMA_VERSION
    correct: bool | None = Field(description="True, False, or None when it could not be decided")
    extracted: str | None = Field(None, description="the answer found in the response")
    source: str = Field("none", description="where the answer was found: boxed, final_answer, ...")
    method: Method = Field(description="what decided the verdict")
    key_normalised: str | None = None
    answer_normalised: str | None = None
    reason: str = ""
    elapsed_ms: float = 0.0
    rule_correct: bool | None = Field(None, description="the rules' verdict, kept when the judge overrode or audited it")
    rule_method: str | None = None


# --------------------------------------------------------------------------- shapes

def _match_unordered(keys: tuple[str, ...], answers: tuple[str, ...]) -> tuple[bool | None, str]:
    if len(keys) != len(answers):
        return False, "set"
    remaining = list(answers)
    undecided = False
    for k in keys:
        hit = None
        for idx, a in enumerate(remaining):
            v, _ = scalar_equal(k, a)
            if v:
                hit = idx
                break
            if v is None:
                undecided = True
        if hit is None:
            return (None, "unparseable") if undecided else (False, "set")
        remaining.pop(hit)
    return True, "set"


def _match_ordered(keys: tuple[str, ...], answers: tuple[str, ...], method: str, part: str) -> tuple[bool | None, str, str]:
    if len(answers) != len(keys):
        return False, method, f"different number of {part}s"
    for k, a in zip(keys, answers):
        v, _ = scalar_equal(k, a)
        if not v:
            return v, method, f"{part} {a!r} vs {k!r}"
    return True, method, f"every {part} equal, in order"


def _singular(words: str) -> str:
    """`No solutions` and `no solution` are one answer: drop a plural `s` from words longer than three letters."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words.split())


def compare(key_shape: Shape, ans_shape: Shape) -> tuple[bool | None, str, str]:
    """(verdict, method, reason) for an answer read into the key's shape."""
    kind = key_shape.kind
    if kind == "choice":
        ok = key_shape.parts[0] == ans_shape.parts[0]
        return ok, kind, "same choice" if ok else "different choice"
    if kind == "text":
        ok = key_shape.parts == ans_shape.parts
        if not ok and _singular(key_shape.parts[0]) == _singular(ans_shape.parts[0]):
            return True, kind, "same words but for a plural"
        return ok, kind, "same words" if ok else "different words"
    if kind == "base":
        ok = key_shape.parts == ans_shape.parts and ans_shape.base in (None, key_shape.base)
        return ok, "base", f"base {key_shape.base} digits {'match' if ok else 'differ'}"
    if kind == "ratio":
        if len(ans_shape.parts) == 1 and len(key_shape.parts) == 2:
            v, _ = scalar_equal(f"\\frac{{{key_shape.parts[0]}}}{{{key_shape.parts[1]}}}", ans_shape.parts[0])
            return v, "ratio", "ratio written as a fraction"
        return _match_ordered(key_shape.parts, ans_shape.parts, "ratio", "term")
    if kind == "tuple":
        return _match_ordered(key_shape.parts, ans_shape.parts, "tuple", "component")
    if kind == "set":
        v, method = _match_unordered(key_shape.parts, ans_shape.parts)
        return v, method, "same solutions in any order" if v else "different solutions"
    v, method = scalar_equal(key_shape.parts[0], ans_shape.parts[0], key_shape, ans_shape)
    return v, method, {True: "equivalent", False: "not equivalent", None: "could not parse"}[v]


def grade_answer(key: str, answer: str) -> Verdict:
    """Decide whether an already-extracted answer equals the key."""
    t0 = time.perf_counter()
    if len(answer) > MAX_ANSWER_CHARS or len(key) > MAX_ANSWER_CHARS:
        return Verdict(correct=None, extracted=answer[:MAX_ANSWER_CHARS], method="too_long", reason="answer too long to be a final answer")
    key_shape = classify_key(key)
    if TRAILING_CONSTANT.search(answer) and not TRAILING_CONSTANT.search(key):
        # math-verify reads a trailing `+ c` as an integration constant and drops it; in a competition answer it is a free symbol
        return Verdict(correct=False, extracted=answer, method="sympy", key_normalised=key_shape.render(), answer_normalised=answer,
                       reason="the answer adds a free symbol the key does not have", elapsed_ms=(time.perf_counter() - t0) * 1000)
    if key_shape.kind not in ("text", "choice", "base") and is_wordy(answer):
        # words against a mathematical key: wrong, and not worth a slow symbolic parse
        return Verdict(correct=False, extracted=answer, method="text", key_normalised=key_shape.render(), answer_normalised=answer,
                       reason="a word where the key is a mathematical value", elapsed_ms=(time.perf_counter() - t0) * 1000)
    ans_shape = read_answer(answer, key_shape)
    correct, method, reason = compare(key_shape, ans_shape)
    return Verdict(
        correct=correct,
        extracted=answer,
        method=method,  # type: ignore[arg-type]
        key_normalised=key_shape.render(),
        answer_normalised=ans_shape.render(),
        reason=reason,
        elapsed_ms=(time.perf_counter() - t0) * 1000,
    )


RAW_FALLBACK_KINDS = ("scalar", "set", "tuple")
# Verdicts math-verify must not overturn: exact decimals (its float tolerance accepts .0000673 for .0000672), rounding, a free `+ c`.
DECISIVE = ("exact_string", "rounding", "too_long", "sympy")  # math-verify reads `a:b:c` loosely


def mv_raw(key: str, region: str) -> bool:
    """math-verify on its own terms: the key as LaTeX against its extraction from the reply's answer part."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    gold_text = key if "$" in key or "\\boxed" in key else f"${to_latex(key)}$"
    region = unicode_to_latex(region)
    gold = parse(gold_text, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()], parsing_timeout=None)
    pred = parse(region, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()], parsing_timeout=None)
    return bool(gold and pred and verify(gold, pred, timeout_seconds=None))


def cheap_verdict(key: str, answer: str) -> Verdict | None:
    """A verdict without a parser, when one is certain: the answer is the key as written, or both are
    integers or integer fractions (exact arithmetic). None: ask the full grader."""
    if not key.strip() or len(key) > MAX_ANSWER_CHARS or TRAILING_CONSTANT.search(key):
        return None
    if answer.replace(" ", "") == key.replace(" ", ""):
        return Verdict(correct=True, extracted=answer, method="exact_string", key_normalised=key, answer_normalised=answer,
                       reason="the answer is the key as written")
    rk, ra = _rational(key.strip()), _rational(answer.strip())
    if rk is None or ra is None:
        return None
    return Verdict(correct=rk == ra, extracted=answer, method="exact_string", key_normalised=str(rk), answer_normalised=str(ra),
                   reason="equal numbers" if rk == ra else "different numbers")


def quick_verdict(key: str, response: str | None) -> Verdict | None:
    """cheap_verdict on a surely extracted answer; None: ask the full grader (in a worker, under the time bound)."""
    ext = extract_answer(response)
    if ext.text is None or not ext.sure:
        return None
    v = cheap_verdict(key, ext.text)
    return v.model_copy(update={"source": ext.source}) if v is not None else None


def grade(key: str, response: str | None) -> Verdict:
    """Extract the final answer from a free-form response and grade it against the key.

    When the rules say False (or cannot decide) on a surely extracted answer, math-verify's own
    extraction and comparison get the last word for mathematical keys, so the grader never does
    worse than math-verify alone; an answer picked out of a sentence is never a confident False.
    """
    t0 = time.perf_counter()
    ext = extract_answer(response)
    if ext.text is None:
        reason = ext.note if ext.note == "the <think> block never closes" else "no final answer found"
        return Verdict(correct=None, source="none", method="no_answer", reason=reason)
    try:
        v = grade_answer(key, ext.text)
        if v.correct is not True and ext.sure and v.method not in DECISIVE and classify_key(key).kind in RAW_FALLBACK_KINDS:
            if not TRAILING_CONSTANT.search(ext.text) and mv_raw(key, ext.region or ext.text):
                v = v.model_copy(update={"correct": True, "method": "math_verify", "reason": "math-verify's own extraction finds the key's value"})
    except Exception as exc:  # a parser bug on odd input must not sink a batch
        return Verdict(correct=None, extracted=ext.text, source=ext.source, method="error", reason=f"{type(exc).__name__}: {exc}"[:200])
    if v.correct is False and not ext.sure:
        v = v.model_copy(update={"correct": None, "reason": v.reason + "; the answer was picked out of a sentence, so this is not certain"})
    return v.model_copy(update={"source": ext.source, "elapsed_ms": (time.perf_counter() - t0) * 1000})
