"""Equality of two single values written as LaTeX: exact decimals, math-verify, then sympy."""

from __future__ import annotations

import logging
import random
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any



class _LazySympy:
    """sympy loads in ~0.7 s; load it at the first symbolic comparison, not when the CLI starts."""

    def __getattr__(self, name: str) -> Any:
        import sympy as real

        globals()["sympy"] = real
        return getattr(real, name)


sympy: Any = _LazySympy()

from .normalize import Shape, decimal_places

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


def _letters(latex: str) -> set[str]:
    """The letters of a value outside LaTeX command names (`\\frac`, `\\sqrt`, `\\text{..}` words are not variables)."""
    plain = re.sub(r"\\(?:text|textnormal|textrm|textit|mathrm|mbox|textbf|operatorname)\s*\{[^{}]*\}|\\(?:begin|end)\{[a-z]+\*?\}|\\[A-Za-z]+", " ", latex)
    return set(re.findall(r"[A-Za-z]", plain))


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


def _as_set(expr: Any) -> Any:
    """An inequality in one variable (`x \\le 2`, `-1 < x \\le 3`, `x < 1 \\lor x > 3`) as the set it
    describes; a set as itself; None for anything else."""
    if isinstance(expr, sympy.Set):
        return expr
    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol) and isinstance(expr.rhs, sympy.Set):
        return expr.rhs  # `x \in [a, b]` reads as x = the interval: membership, the set itself
    if isinstance(expr, (sympy.core.relational.Relational, sympy.And, sympy.Or)) and not isinstance(expr, (sympy.Eq, sympy.Ne)):
        applied = expr.atoms(sympy.core.function.AppliedUndef)
        if len(applied) == 1:  # `0 < f(x) < 1` describes the values of f(x): one unknown, as `0 < y < 1` does
            expr = expr.subs(applied.pop(), sympy.Symbol("_value"))
        if len(expr.free_symbols) == 1:
            try:
                return expr.as_set()
            except Exception:  # sympy raises many types on odd input
                return None
    return None


OR_WORD = re.compile(r"\\text\{\s*or\s*\}|\\lor|\\vee|\bor\b")


def or_set(latex: str) -> Any:
    """`x < 1 \\text{ or } x > 3` as the union of what each side describes; None unless every side is an inequality."""
    parts = [p.strip() for p in OR_WORD.split(latex)]
    if len(parts) < 2:
        return None
    sets = []
    for part in parts:
        parsed = mv_parse(part) if part else []
        one = _as_set(parsed[0]) if parsed else None
        if one is None or isinstance(parsed[0], sympy.Set):
            return None
        sets.append(one)
    return sympy.Union(*sets)


def sympy_equal(a: Any, b: Any) -> bool | None:
    """Symbolic equality, then random-point evaluation for expressions in variables."""
    a, b = _rhs(_with_imaginary(a)), _rhs(_with_imaginary(b))
    if not isinstance(a, sympy.Expr) or not isinstance(b, sympy.Expr):
        return None
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if symbols:  # constants skip simplify (the slowest step): exact or 30-digit comparison below decides them
        try:
            if sympy.simplify(a - b) == 0:
                return True
        except Exception:  # sympy raises many types on odd input
            pass
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


RATIONAL = re.compile(r"^(-?)(?:(\d+)|\\frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+))$")


def _rational(latex: str) -> Fraction | None:
    """An integer or a fraction of integers (`12`, `-\\frac{3}{4}`, `3/4`) as an exact Fraction; None otherwise."""
    m = RATIONAL.match(latex.replace(" ", ""))
    if not m:
        return None
    sign = -1 if m.group(1) else 1
    if m.group(2) is not None:
        return Fraction(sign * int(m.group(2)))
    num, den = (m.group(3), m.group(4)) if m.group(3) is not None else (m.group(5), m.group(6))
    return Fraction(sign * int(num), int(den)) if int(den) else None


def scalar_equal(key_latex: str, ans_latex: str, key_shape: Shape | None = None, ans_shape: Shape | None = None) -> tuple[bool | None, str]:
    """Compare two single values written as LaTeX. Returns (verdict, method)."""
    from math_verify import verify

    if key_latex.replace(" ", "") == ans_latex.replace(" ", ""):
        return True, "exact_string"
    percent = bool(key_shape and key_shape.percent) != bool(ans_shape and ans_shape.percent)
    decided = None if percent else _decimal_literals(key_latex, ans_latex)  # 50% against 0.5 is not a decimal-literal question
    if decided is not None:
        return decided
    rk, ra = _rational(key_latex), _rational(ans_latex)
    if rk is not None and ra is not None and not (key_shape and key_shape.percent) and not (ans_shape and ans_shape.percent):
        return rk == ra, "exact_string"  # two integers or integer fractions: exact arithmetic, no parser needed
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
    # An interval against an inequality (before the free-symbol check, which `x` would fail); `x < 1 or x > 3`
    # parses as its first half alone, so each side's `or` is read whole. Two plain sets stay math-verify's to compare.
    ors = or_set(key_latex), or_set(ans_latex)
    sg = ors[0] if ors[0] is not None else _as_set(g)
    sp = ors[1] if ors[1] is not None else _as_set(p)
    both_plain_sets = ors == (None, None) and isinstance(g, sympy.Set) and isinstance(p, sympy.Set)
    if sg is not None and sp is not None and not both_plain_sets:
        return bool(sg == sp), "sympy"
    dropped = _letters(ans_latex) - _letters(str(pred[-1]))
    if dropped:
        # math-verify read part of the answer (`12 + m` as 12, dropping `m` as if it were a unit): not a reading of it
        return (False, "sympy") if not (_letters(key_latex) & dropped) else (None, "unparseable")
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
