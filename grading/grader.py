"""The deterministic grader: extract an answer, read it into the key's shape, decide.

`grade(key, response)` is the pure core (no time bound; use it in a worker or a test).
`Grader` (in pool.py) runs it under a per-verdict time bound in worker processes.
`correct` is True, False, or None ("could not decide"); None is never turned into True.
"""

from __future__ import annotations

import logging
import random
import re
import time
from decimal import Decimal
from typing import Any, Literal

import sympy
from pydantic import BaseModel, ConfigDict, Field

from .extract import extract_answer
from .normalize import Shape, classify_key, decimal_places, is_wordy, read_answer, to_latex, unicode_to_latex

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


# --------------------------------------------------------------------------- scalar equality

_PARSE_CACHE: dict[str, Any] = {}
# Our time bound is the worker pool's (pool.py), so math-verify's "timeout disabled" notice is noise.
logging.getLogger("math_verify").setLevel(logging.ERROR)


def mv_parse(latex: str) -> list[Any]:
    """math-verify's parse of one LaTeX value (timeouts are the caller's job: see pool.py)."""
    if latex in _PARSE_CACHE:
        return _PARSE_CACHE[latex]
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    result = parse(f"${latex}$", extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()], parsing_timeout=None)
    if len(_PARSE_CACHE) > 4096:
        _PARSE_CACHE.clear()
    _PARSE_CACHE[latex] = result
    return result


def _with_imaginary(expr: Any) -> Any:
    """Plain-text keys write the imaginary unit as `i`; math-verify leaves it a symbol."""
    if isinstance(expr, sympy.Basic):
        subs = {s: sympy.I for s in expr.free_symbols if s.name in ("i", "I")}
        if subs:
            return expr.subs(subs)
    return expr


def _rhs(expr: Any) -> Any:
    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
        return expr.rhs
    return expr


def _numeric_close(a: Any, b: Any, rel: float = 1e-12) -> bool | None:
    try:
        va, vb = complex(sympy.N(a, 30)), complex(sympy.N(b, 30))
    except (TypeError, ValueError, AttributeError):
        return None
    scale = max(1.0, abs(va), abs(vb))
    return abs(va - vb) <= rel * scale


def sympy_equal(a: Any, b: Any) -> bool | None:
    """Symbolic equality, then random-point evaluation for expressions in variables."""
    a, b = _rhs(_with_imaginary(a)), _rhs(_with_imaginary(b))
    if not isinstance(a, sympy.Expr) or not isinstance(b, sympy.Expr):
        return None
    try:
        if sympy.simplify(a - b) == 0:
            return True
    except Exception:  # sympy raises many types on odd input
        pass
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not symbols:
        if a.is_Rational and b.is_Rational:
            return bool(a == b)
        if any(isinstance(x, sympy.Float) for x in (a, b)):
            return None  # a decimal against an exact value: math-verify's precision rules decide
        return _numeric_close(a, b)
    rng = random.Random(0)
    for _ in range(4):
        point = {s: sympy.Rational(rng.randint(11, 29), 7) for s in symbols}
        close = _numeric_close(a.subs(point), b.subs(point))
        if close is None:
            return None
        if not close:
            return False
    return True


NUMBER_LITERAL = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)$")


def _decimal_literals(key_latex: str, ans_latex: str) -> tuple[bool, str] | None:
    """Two plain decimal numbers compare exactly (math-verify's float tolerance accepts .0000673
    for .0000672); a more precise answer that rounds to a decimal key is accepted."""
    k, a = key_latex.replace(" ", ""), ans_latex.replace(" ", "")
    if not (NUMBER_LITERAL.match(k) and NUMBER_LITERAL.match(a)) or "." not in k + a:
        return None
    dk, da = Decimal(k), Decimal(a)
    if dk == da:
        return True, "exact_string"
    places = decimal_places(k)
    if places and (decimal_places(a) or 0) > places:
        step = Decimal(1).scaleb(-places)
        if abs(da - dk) <= step / 2:
            return True, "rounding"
    return False, "exact_string"


def _extra_symbols(gold: Any, pred: Any) -> set[str]:
    """Symbols in the answer that the key does not have (other than the imaginary unit)."""
    if not (isinstance(gold, sympy.Basic) and isinstance(pred, sympy.Basic)):
        return set()
    g = {str(x) for x in _with_imaginary(_rhs(gold)).free_symbols}
    p = {str(x) for x in _with_imaginary(_rhs(pred)).free_symbols}
    return p - g if not g else set()


def _is_text_like(expr: Any) -> bool:
    return isinstance(expr, sympy.Basic) and len(expr.free_symbols) >= 4


def scalar_equal(key_latex: str, ans_latex: str, key_shape: Shape | None = None, ans_shape: Shape | None = None) -> tuple[bool | None, str]:
    """Compare two single values written as LaTeX. Returns (verdict, method)."""
    from math_verify import verify

    if key_latex.replace(" ", "") == ans_latex.replace(" ", ""):
        return True, "exact_string"
    decided = _decimal_literals(key_latex, ans_latex)
    if decided is not None:
        return decided
    gold, pred = mv_parse(key_latex), mv_parse(ans_latex)
    if not gold or not pred:
        return None, "unparseable"
    g, p = gold[0], pred[0]
    if _is_text_like(p) and not _is_text_like(g):
        return False, "sympy"  # a word read as a product of letters is not a number: no need to simplify it
    candidates = [pred]
    if ans_shape is not None and ans_shape.percent and not (key_shape and key_shape.percent):
        candidates.append(mv_parse(f"\\frac{{{ans_latex}}}{{100}}"))
    if key_shape is not None and key_shape.percent and not (ans_shape and ans_shape.percent):
        candidates.append(mv_parse(f"({ans_latex})\\cdot 100"))
    extra = _extra_symbols(g, p)
    if extra:
        # `17 + c` against 17: math-verify drops a trailing `+ c` as an integration constant; here it is a free symbol
        return False, "sympy"
    for cand in candidates:
        if cand and verify(gold, cand, timeout_seconds=None):
            return True, "math_verify"
    verdict = sympy_equal(g, p)
    if verdict:
        return True, "sympy"
    decimals = key_shape.decimals if key_shape else decimal_places(key_latex)
    if decimals and isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr) and not p.free_symbols:
        # A key given to d decimal places accepts any value that rounds to it.
        ans_places = decimal_places(ans_latex)
        if ans_places is None or ans_places >= decimals:
            try:
                if abs(float(sympy.N(p, 30)) - float(g)) <= 0.5 * 10 ** (-decimals) + 1e-12:
                    return True, "rounding"
            except (TypeError, ValueError):
                pass
    if verdict is None and isinstance(g, sympy.Basic) and isinstance(p, sympy.Basic):
        return False, "math_verify"  # both parsed, math-verify said no, sympy could not say yes
    return (False, "sympy") if verdict is False else (False, "math_verify")


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


def compare(key_shape: Shape, ans_shape: Shape) -> tuple[bool | None, str, str]:
    """(verdict, method, reason) for an answer read into the key's shape."""
    kind = key_shape.kind
    if kind == "choice":
        ok = key_shape.parts[0] == ans_shape.parts[0]
        return ok, kind, "same choice" if ok else "different choice"
    if kind == "text":
        ok = key_shape.parts == ans_shape.parts
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
