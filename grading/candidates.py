"""One reply, one answer: the distinct values a final answer names, so that a hedge is wrong.

A reply that names several values where the key is one (`10 or 12`, `10, 12`, `10 \\pm 2`, `10 to 12`,
`between 7 and 9`, `at least 8`, `(C) or (D)`) has not answered: it is graded wrong with the reason
`hedged: names 10 and 12`, whichever of its values is the key's. Values that are one value written twice
(`3/4 = 0.75`, `m+n = 256+37 = 293`, `10 (ten)`) are one answer, and a check written after the answer
(`10. (Check: 12 - 2 = 10.)`) names nothing.

Only keys that state one plain value are read this way: a key that is a set, a tuple, a ratio, an
interval or a relation states its own shape, and the comparison of shapes already refuses extra parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .latex import prose_words, split_top, to_latex, unwrap_text_commands
from .normalize import LHS, THOUSANDS, Shape, number_word

# Words that make one number a range of them. "about"/"approximately" are not here: a rounded value is one value.
NUM = r"[$\\(\s]*-?(?:\d|\\frac|\\sqrt|\\pi)"
RANGE_WORDS = re.compile(
    rf"(?i)\b(?:(?:at\s+least|at\s+most|no\s+(?:more|less|fewer)\s+than|more\s+than|less\s+than|fewer\s+than|greater\s+than|"
    rf"up\s+to|a\s+minimum\s+of|a\s+maximum\s+of)(?={NUM})|between(?={NUM}.{{0,60}}?\band\b))"
    r"|(?<=\d)[$\s]*\b(?:or\s+(?:more|less|fewer|greater|higher|lower|so)|and\s+(?:above|below|up|over))\b"
)
RANGE_TO = re.compile(r"(?i)(?<![\w.])(-?\d+(?:\.\d+)?)\s*(?:to|through|–|—|\.\.\.?|\\ldots|\\dots)\s*(-?\d+(?:\.\d+)?)(?![\w.])")
HYPHEN_RANGE = re.compile(r"(?<![\w.^_{-])(\d+)-(\d+)(?![\w.])")  # `10-12`, read as a range only when it counts up
INEQUALITY = re.compile(r"[<>≤≥≠]|\\(?:le|ge|leq|geq|lt|gt|neq|ne|leqslant|geqslant)(?![A-Za-z])")
PLUS_MINUS = re.compile(r"±|∓|\\pm(?![A-Za-z])|\\mp(?![A-Za-z])|\+/-|\+-(?!\d)")
# A tail that checks the answer, not a second answer: `(Check: 12 - 2 = 10)`, `. Since 3 + 7 = 10, ...`.
CHECK_TAIL = re.compile(
    r"(?is)(?:\s*[.;,]\s*|\s+)(?:\(|\[)?\s*(?:check(?:ing)?|verif(?:y|ied|ication)|since|because|indeed|note|"
    r"i\.e\.?|that\s+is|which\s+(?:is|gives|matches)|this\s+(?:is|gives|matches)|confirm(?:ed|ing)?|proof|reason)\b.*$"
)
# a sentence that says any of these names more than one answer: no number is picked out of it
SENTENCE_HEDGE = re.compile(r"(?i)\b(?:or|ou|oder|o|maybe|perhaps|probably|possibly|either)\b")
HEDGE_WORDS = re.compile(r"(?i)\b(?:or|maybe|possibly|perhaps|might|could|also|alternatively|either|unless|otherwise)\b")
# `or` in a few languages too (a hedge reads the same in French, German, Spanish, Russian, Chinese); never `/` (`x / 2` is one value)
SEPARATORS = (";", " or ", " and ", r"\text{ or }", r"\text{ and }", r"\quad", r"\qquad", r"\text{or}", r"\text{and}", " & ",
              " ou ", " oder ", " o ", " или ", "或")
VALUE_LIKE = re.compile(r"\d|\\pi|\\sqrt|\\frac|\\infty|π|√|∞")


@dataclass(frozen=True)
class Reading:
    """What a final answer names: its distinct candidate values, and why it is a hedge (empty when it is not)."""

    values: tuple[str, ...]
    hedge: str = ""


def single_value_key(shape: Shape) -> bool:
    """A key that states one plain value (a number, an expression, a choice): the keys hedging is read against."""
    if shape.kind == "choice":
        return True
    if shape.kind != "scalar":
        return False
    value = shape.parts[0]
    return not (INEQUALITY.search(value) or PLUS_MINUS.search(value) or "=" in value or re.search(r"\\cup|\\cap|\\infty|\\in\b|\\emptyset", value)
                or re.match(r"^\s*[(\[].*,.*[)\]]\s*$", value) or re.search(r"\bor\b|\\lor|\\vee", value))


NOTE_TAIL = re.compile(r"\s*\\(?:text|mbox|textrm|textit)\s*\{\s*\(?[^{}0-9]*\)?\s*\}\s*$|\s+\([^()0-9]*\)\s*$")


def _words_note(note: str) -> bool:
    """A note in words (`(double root)`, `\\text{ (in lowest terms)}`), not maths (`(pi)`, `\\text{ cm}` is a unit)."""
    from .normalize import MATH_WORDS

    words = prose_words(note)
    return bool(words) and not any(w.lower() in MATH_WORDS for w in words) and "(" in note


def _strip_check(answer: str) -> str:
    """`10. (Check: 12 - 2 = 10.)` -> `10`: a check after the value names nothing; nor does a note in words after it,
    `x = 2 \\text{ (double root)}`, `3 (in simplest form)`."""
    note = NOTE_TAIL.search(answer)
    if note and note.start() > 0 and VALUE_LIKE.search(answer[: note.start()]) and _words_note(note.group(0)) \
            and not HEDGE_WORDS.search(note.group(0)):
        answer = answer[: note.start()].rstrip()
    m = CHECK_TAIL.search(answer)
    if m and m.start() > 0 and VALUE_LIKE.search(answer[: m.start()]) and not HEDGE_WORDS.search(m.group(0)):
        return answer[: m.start()].strip()
    return answer


def _chain_value(part: str) -> str:
    """`m+n = 256+37 = 293` -> `293`; `x = 5` -> `5`: a chain of equalities states its last side."""
    sides = [s.strip() for s in split_top(part, ("=",))]
    sides = [s for s in sides if s]
    return sides[-1] if sides else part.strip()


def _split_values(answer: str) -> list[str]:
    """The parts of an answer that each state a value: split on `,` (not thousands, not a decimal comma
    without a space), `;`, `or`, `and`, `\\quad`."""
    s = unwrap_text_commands(to_latex(answer))
    if THOUSANDS.match(s.replace(" ", "")):
        return [s]
    # a comma with a space after it (or between non-digits) separates; `2,5` with no space is one token
    s = re.sub(r"(?<=\d),(?=\d)", "\u0000", s)
    if (m := re.fullmatch(r"(.*[^\s\-+*/^(=])\s+\(([^()]*)\)", s)) and VALUE_LIKE.search(m.group(1)) is None and number_word(m.group(1)) is None:
        pass  # `f(3)` and `(1, 2)`: the parentheses belong to the value
    elif m and (VALUE_LIKE.search(m.group(2)) or number_word(m.group(2))):
        s = f"{m.group(1)} ,, {m.group(2)}"  # `six (6)`, `8 (or 9 if ...)`: the parenthesis names a value of its own
    parts = split_top(s.replace(",", " ,, ").replace(" ,,  ,, ", " ,, "), (",,",) + SEPARATORS)
    return [p.replace("\u0000", ",").strip().rstrip(".").strip() for p in parts if p.strip(" .")]


def _is_value(part: str) -> bool:
    p = unwrap_text_commands(part).strip(" .")
    return bool(VALUE_LIKE.search(p)) or number_word(p) is not None


def _letters(answer: str, top: str) -> list[str]:
    """Option letters a choice answer's first clause names: `(C) or (D)`, `B, C`, `B and C`."""
    clause = re.split(r"[;.]\s|\s(?:since|because|as|not|while|whereas|but)\s|\s[-–—]\s", answer, maxsplit=1)[0]
    letters = f"A-{max(top, 'E')}"
    found = re.findall(rf"(?<![A-Za-z\\])\(?([{letters}])\)?(?![A-Za-z'’])", unwrap_text_commands(clause))
    joined = re.search(rf"(?<![A-Za-z\\])\(?[{letters}]\)?\s*(?:,|/|\bor\b|\band\b|&)\s*\(?[{letters}]\)?(?![A-Za-z])", unwrap_text_commands(clause))
    return list(dict.fromkeys(found)) if joined else found[:1]


def read_candidates(answer: str, key: Shape, same: callable) -> Reading:
    """The distinct values `answer` names against a single-value `key`; `same(a, b)` says whether two
    values are one (the grader's scalar equality)."""
    if key.kind == "choice":
        letters = _letters(answer, key.parts[0])
        if len(letters) > 1:
            return Reading(tuple(letters), f"hedged: names {' and '.join(letters)}")
        return Reading(tuple(letters))
    text = _strip_check(answer.strip())
    plain = unwrap_text_commands(to_latex(text))
    if m := RANGE_TO.search(plain):
        if m.group(1) != m.group(2):
            return Reading((m.group(1), m.group(2)), f"hedged: names a range, {m.group(1)} to {m.group(2)}")
    if RANGE_WORDS.search(plain) and _is_value(plain):
        word = RANGE_WORDS.search(plain).group(0)
        return Reading((plain,), f"hedged: names a range ({' '.join(word.lower().split())} ...), not one value")
    if PLUS_MINUS.search(text) or PLUS_MINUS.search(plain):
        return Reading((plain,), "hedged: \\pm names two values")
    if INEQUALITY.search(plain):
        return Reading((plain,), "hedged: an inequality names a range, not one value")
    if (m := HYPHEN_RANGE.search(plain)) and int(m.group(1)) < int(m.group(2)) and not re.search(r"[+*/^]|\\", plain):
        return Reading((m.group(1), m.group(2)), f"hedged: names a range, {m.group(1)} to {m.group(2)}")
    parts = [_chain_value(LHS.sub("", p)) for p in _split_values(text)]
    values = [p for p in parts if _is_value(p)]
    distinct: list[str] = []
    for v in values:
        if not any(v.replace(" ", "") == d.replace(" ", "") or same(d, v) for d in distinct):
            distinct.append(v)
    if len(distinct) > 1:
        shown = " and ".join(distinct[:4]) + (" ..." if len(distinct) > 4 else "")
        return Reading(tuple(distinct), f"hedged: names {shown}")
    return Reading(tuple(distinct))
