"""A canonical form of an extracted answer, for grouping answers (maj@n): two answers are one group exactly
when their canonical forms are equal, so grouping is transitive and does not depend on the order of samples.

Exact where it can be: an integer or fraction is its reduced fraction, a decimal its exact decimal value;
an expression math-verify reads whole is its sympy form, constants evaluated to 12 significant digits; a
hedged answer (several values) and anything unreadable is its own text, with spacing and case removed.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

from .equality import _letters, _rational
from .latex import to_latex, unwrap_text_commands
from .normalize import THOUSANDS, scalar_latex


def _text(answer: str) -> str:
    return "text:" + re.sub(r"\s+", "", answer).casefold()


@lru_cache(maxsize=65536)
def canonical(answer: str | None) -> str | None:
    """The group an answer belongs to; None for no answer (it votes for nothing)."""
    if answer is None or not answer.strip():
        return None
    value, percent = scalar_latex(answer)
    value = unwrap_text_commands(value).strip()
    if THOUSANDS.match(value):
        value = value.replace(",", "")
    q = _rational(value)
    if q is None:
        try:
            q = Fraction(Decimal(value)) if re.fullmatch(r"-?\d*\.\d+", value) else None
        except InvalidOperation:
            q = None
    if q is not None:
        q = q / 100 if percent else q
        return f"q:{q.numerator}/{q.denominator}"
    if re.search(r"\s(?:or|and)\s|,|;|\\pm|±", to_latex(answer)):
        return _text(answer)  # several values: grouped only with the same text
    try:
        from .equality import mv_parse, sympy

        parsed = mv_parse(value)
        if not parsed or _letters(value) - _letters(str(parsed[-1])):
            return _text(answer)
        expr = parsed[0]
        if isinstance(expr, sympy.Expr):
            if not expr.free_symbols:
                n = sympy.N(expr, 12)
                if n.is_real:
                    return f"n:{sympy.Float(n, 12)}"
            return "e:" + sympy.srepr(sympy.expand(expr))
        return "e:" + sympy.srepr(expr)
    except Exception:  # sympy raises many types on odd input: the text is the group
        return _text(answer)
