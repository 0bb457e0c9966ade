"""Normalisation of plain-text competition keys and model answers into comparable shapes.

math-verify reads LaTeX well and plain text poorly (`√130`, `2114five`, `13,680`, `1 and -1/3`),
so every key and answer is first rewritten as LaTeX and classified by the *key's* shape:
words, a choice letter, a number in another base, a ratio, an unordered set of solutions,
an ordered tuple, or a single expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .latex import split_top, strip_outer, to_latex, unwrap_text_commands

Kind = Literal["text", "choice", "base", "ratio", "set", "tuple", "scalar"]

BASE_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
}
SHORT_WORDS = {"no", "yes", "odd", "even", "on", "in", "out", "neither", "both", "all", "none", "never", "true", "false"}
MATH_WORDS = {"pi", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "sqrt", "exp", "infty", "infinity", "frac", "cup", "cap"}
UNITS = (
    r"(?:square |sq\.? |cubic )?(?:units?|cm|m|km|mm|in|inch(?:es)?|ft|feet|foot|yards?|miles?|meters?|centimeters?|"
    r"kilometers?|degrees?|cents?|dollars?|hours?|minutes?|seconds?|days?|years?|mph|pounds?|lbs?|grams?|kg|"
    r"people|students|ways|points|games|marbles|coins|cookies|apples|units\^2|sq units)"
)


@dataclass(frozen=True)
class Shape:
    """A key or answer after normalisation: its kind and the LaTeX parts to compare."""

    kind: Kind
    parts: tuple[str, ...]
    base: int | None = None
    percent: bool = False
    decimals: int | None = None  # decimal places of a decimal key: rounding to them is accepted

    def render(self) -> str:
        if self.kind == "base":
            return f"{self.parts[0]}_{{{self.base}}}" if self.base else self.parts[0]
        sep = {"ratio": ":", "set": "; ", "tuple": ", "}.get(self.kind, "")
        joined = sep.join(self.parts)
        return f"({joined})" if self.kind == "tuple" else joined


# --------------------------------------------------------------------------- scalars

THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")  # `0,111` is a decimal comma, not thousands
DECIMAL = re.compile(r"^-?\d*\.(\d+)$")
LHS = re.compile(r"^\s*(?:[A-Za-z]|\\[a-zA-Z]+|[A-Za-z]\s*\([A-Za-z]\)|[A-Za-z]_\{?\w+\}?)\s*=\s*(?!=)")
ROUNDING_NOTE = re.compile(r"\(?\s*(?:rounded|round|to the nearest|nearest|approx\.?|approximately)[^)]*\)?\s*$", re.I)


NUMBER_WORDS = {
    "zero": 0, "one": 1, **BASE_WORDS, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}
REPEATING = re.compile(r"^(-?)(\d*)\.(\d*)\\(?:overline|bar)\s*\{?\s*(\d+)\s*\}?$")
CHOICE_PREFIX = re.compile(r"^\(\s*[A-E]\s*\)\s*(?=\S)")  # `(E) 12`, `\textbf{(E) }12` once unwrapped


def number_word(s: str) -> str | None:
    """`six`, `twenty-four`, `Twenty one` -> the digits; None for anything else."""
    tokens = re.split(r"[\s-]+", s.strip(" .").casefold())
    if not tokens or len(tokens) > 2 or any(t not in NUMBER_WORDS for t in tokens):
        return None
    values = [NUMBER_WORDS[t] for t in tokens]
    if len(values) == 2 and not (values[0] >= 20 and values[0] % 10 == 0 and 0 < values[1] < 10):
        return None
    return str(sum(values))


def repeating_decimal(s: str) -> str | None:
    """`0.\\overline{3}` -> `\\frac{1}{3}`, `1.2\\overline{45}` -> its exact fraction; None otherwise."""
    m = REPEATING.match(s.replace(" ", ""))
    if not m:
        return None
    sign, whole, fixed, rep = m.group(1), m.group(2) or "0", m.group(3), m.group(4)
    from fractions import Fraction

    value = int(whole) + Fraction(int(fixed or "0"), 10 ** len(fixed)) + Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
    value = -value if sign else value
    return rf"\frac{{{value.numerator}}}{{{value.denominator}}}" if value.denominator != 1 else str(value.numerator)


def approx_value(s: str) -> str:
    """`\\frac{\\sqrt3}{3} \\approx 0.577` -> the exact left side; `x \\approx 11` -> 11."""
    parts = re.split(r"\\approx|≈", s)
    if len(parts) < 2:
        return s
    left = LHS.sub("", parts[0] + " =").strip(" =") if re.fullmatch(r"\s*[A-Za-z]\s*", parts[0]) else parts[0].strip()
    return left if left else parts[-1].strip()


def scalar_latex(s: str) -> tuple[str, bool]:
    """One value to LaTeX: drop `x =`, currency, degrees, units, thousands commas; mixed numbers. Returns (latex, percent)."""
    s = approx_value(to_latex(s))
    s = ROUNDING_NOTE.sub("", s).strip()
    s = re.sub(r"^(?:\\approx|≈|about|approximately)\s*", "", s).strip()
    s = LHS.sub("", s)
    s = unwrap_text_commands(s).strip()
    s = CHOICE_PREFIX.sub("", s)  # a multiple-choice label before the value itself
    s = number_word(s) or repeating_decimal(s) or s
    percent = False
    if re.search(r"\\?%\s*$", s) or re.search(r"\s*percent$", s):
        percent = True
        s = re.sub(r"\s*(\\?%|percent)\s*$", "", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|\\circ|\s*degrees?$", "", s).strip()
    s = re.sub(rf"^(-?[\d.,]+(?:\s*\\pi)?)\s*{UNITS}$", r"\1", s, flags=re.I).strip()
    s = strip_units(s)
    if THOUSANDS.match(s):
        s = s.replace(",", "")
    m = re.match(r"^(-?)(\d+)\s+(\d+)/(\d+)$", s) or re.match(r"^(-?)(\d+)\s*\\frac\s*\{(\d+)\}\s*\{(\d+)\}$", s)
    if m:  # mixed number: 2 1/2, 137 \frac{1}{2}
        sign, whole, num, den = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        s = rf"{sign}\frac{{{whole * den + num}}}{{{den}}}"
    s = s.rstrip(".").strip()
    return s, percent


UNIT_TAIL = re.compile(rf"\s+(?:{UNITS}|square\s+{UNITS}|{UNITS}\s+(?:squared|cubed))(?:\s*\^\s*\{{?[23]\}}?)?\s*$", re.I)


def strip_units(s: str) -> str:
    """`81\\pi units squared`, `864 inches^2`, `20 cm^2` -> the value, when what is left is a number-like value."""
    m = UNIT_TAIL.search(s)
    head = s[: m.start()] if m else ""
    if m and re.search(r"\d|\\pi", head) and not re.search(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", "", head)) \
            and not re.search(r"[-+*/^=(]\s*$|\\cdot\s*$|\\times\s*$", head):  # `12 + m` is a sum, not 12 metres
        return s[: m.start()].strip()
    return s


def decimal_places(s: str) -> int | None:
    m = DECIMAL.match(s.strip())
    return len(m.group(1)) if m else None


# --------------------------------------------------------------------------- classification

CHOICE = re.compile(r"^\(?\s*([A-Ja-j])\s*\)?$")
CHOICE_LABELLED = re.compile(r"^\(\s*([A-J])\s*\)\s*([A-Za-z][\w .'-]*)$")
CHOICE_IN_ANSWER = re.compile(r"^\(?\s*([A-Ja-j])\s*(?:\)|\.|:|$)")
CHOICE_NAMED = re.compile(r"^([A-J])[.:)]?\s+([A-Z][a-z][\w .'-]*)$")  # `C Cecile`: a letter, then the option's name
CHOICE_ANCHOR = re.compile(r"(?i)(?:answer|réponse|respuesta|resposta|antwort|risposta|option|choice|答案)\s*(?:is|est|es|ist|è)?\s*[:：=]?")
BASE_KEY = re.compile(
    r"^([0-9A-Za-z]+?)\s*(?:_\s*\{?\s*(\d+)\s*\}?|\s*\(?\s*base\s*(\d+|[a-z]+)\s*\)?|(" + "|".join(BASE_WORDS) + r"))$",
    re.I,
)
CHOICE_SCAN_CHARS = 300  # a letter named anywhere counts only in a short reply (a long one names points and vertices)


def choice_letter(text: str, top: str = "E") -> tuple[str | None, bool]:
    """The option a reply picks and whether that is certain: the letter after its last `answer is`/`answer:`
    (in a few languages) or a leading `D.`/`(D)` are; the last letter a short reply names
    (`not A ..., I think it's B`) is not."""
    letters = f"A-{max(top, 'E')}"
    standalone = re.compile(rf"(?<![A-Za-z])\(?([{letters}])\)?(?![A-Za-z'’])")
    anchors = list(CHOICE_ANCHOR.finditer(text))
    if anchors:
        m = standalone.search(text[anchors[-1].end():anchors[-1].end() + 40])
        if m:
            return m.group(1), True
    # outside an anchor, `A total of 12` and `I think` are an article and a pronoun, not options
    unanchored = re.compile(rf"(?<![A-Za-z])\(?([{letters}])\)?(?![A-Za-z'’])(?<![AI])|(?<![A-Za-z])\(?([AI])\)?(?![A-Za-z'’])(?!\s+[a-z])")
    m = unanchored.match(text.lstrip())
    if m:
        return m.group(1) or m.group(2), True
    hits = [a or b for a, b in unanchored.findall(text)] if len(text) <= CHOICE_SCAN_CHARS else []
    return (hits[-1] if hits else None), False


def _words(s: str) -> str:
    s = unwrap_text_commands(to_latex(s))
    s = re.sub(r"[\"'`“”‘’*]", "", s)
    return " ".join(s.strip(" .!,;").split()).casefold()


def is_wordy(key: str) -> bool:
    plain = unwrap_text_commands(to_latex(key)).strip(" .")
    if not re.fullmatch(r"[A-Za-z]+(?:[ '][A-Za-z0-9]+)*", plain):
        return False
    tokens = [t for t in re.split(r"[ ']", plain) if t.isalpha()]
    if any(t.lower() in MATH_WORDS for t in tokens):
        return False
    if any(len(t) >= 4 for t in tokens) or plain.lower() in SHORT_WORDS:
        return True
    return any(len(t) >= 2 and t[0].isupper() for t in tokens)


def parse_base(s: str) -> tuple[str, int | None] | None:
    plain = unwrap_text_commands(to_latex(s)).replace(" ", "") if "base" not in s else unwrap_text_commands(to_latex(s))
    m = BASE_KEY.match(plain.strip())
    if not m:
        return None
    digits = m.group(1).upper().lstrip("0") or "0"
    raw = m.group(2) or m.group(3) or m.group(4)
    base = int(raw) if raw.isdigit() else BASE_WORDS.get(raw.lower())
    if base is None or not 2 <= base <= 36:
        return None
    try:
        int(digits, base)
    except ValueError:
        return None
    return digits, base


def _expand_pm(part: str) -> list[str]:
    m = re.search(r"\\(pm|mp)", part)
    if not m:
        return [part]
    left, right = part[: m.start()].strip(), part[m.end() :].strip()
    if not left:
        return [f"-{right}", right]
    return [f"{left} - {right}", f"{left} + {right}"]


def _set_items(s: str) -> list[str]:
    s = to_latex(s)
    inner = strip_outer(s, r"\{", r"\}") or strip_outer(s, "{", "}")
    if inner is not None:
        s = inner
    s = unwrap_text_commands(s)
    items: list[str] = []
    for part in split_top(s, (",", ";", " and ", " or ", r"\text{ and }", r"\text{ or }")):
        part = LHS.sub("", part).strip()
        items.extend(_expand_pm(part))
    return [i for i in items if i]


def _tuple_items(s: str) -> list[str] | None:
    s = to_latex(s)
    s = re.sub(r"^[(\[]\s*(\\begin\{array\}.*\\end\{array\})\s*[)\]]$", r"\1", s, flags=re.S)
    s = re.sub(r"\\begin\{array\}\s*\{[^{}]*\}(.*)\\end\{array\}", r"\\begin{pmatrix}\1\\end{pmatrix}", s, flags=re.S)
    rows = _plain_rows(s)
    if rows:
        return rows
    m = re.fullmatch(r"\\begin\{[pbvB]?matrix\}(.*)\\end\{[pbvB]?matrix\}", s, re.S)
    if m:
        body = m.group(1)
        rows = [r.strip() for r in body.split(r"\\") if r.strip()]
        cells = [c.strip() for r in rows for c in r.split("&")]
        return cells if len(cells) > 1 else None
    for left, right in (("(", ")"), (r"\langle", r"\rangle"), ("<", ">")):
        inner = strip_outer(s, left, right)
        if inner is not None:
            parts = split_top(inner)
            return parts if len(parts) > 1 else None
    return None


def _plain_rows(s: str) -> list[str] | None:
    """`[[1, 2], [3, 4]]` or `((1,2),(3,4))`: a matrix typed row by row -> its cells in order."""
    for left, right in (("[", "]"), ("(", ")")):
        inner = strip_outer(s.strip(), left, right)
        if inner is None:
            continue
        rows = split_top(inner)
        cells: list[str] = []
        for r in rows:
            r_inner = strip_outer(r.strip(), left, right)
            if r_inner is None:
                return None
            cells.extend(split_top(r_inner))
        return cells if len(rows) > 1 and len(cells) > len(rows) else None
    return None


LABELLED = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(.+?)\s*$")


def labelled_tuples(s: str) -> list[str] | None:
    """`p=5, q=2; p=7, q=2` -> ["(5, 2)", "(7, 2)"]: groups of labelled values, one tuple per group."""
    groups = [g for g in re.split(r";|\s+(?:and|or)\s+|\\text\{\s*(?:and|or)\s*\}", s) if g.strip()]
    out = []
    for g in groups:
        values = []
        for part in split_top(g):
            m = LABELLED.match(part)
            if not m:
                return None
            values.append(m.group(1))
        if len(values) < 2:
            return None
        out.append("(" + ", ".join(values) + ")")
    return out or None


TRAILING_NOTE = re.compile(r"\s*\\(?:text|mbox|textrm|mathrm)\{[^{}0-9]*\}\s*$")


def drop_trailing_note(latex: str) -> str:
    """`12\\text{ (inches)}` -> `12`: a key's trailing words describe it; a key that is only words keeps them."""
    stripped = TRAILING_NOTE.sub("", latex)
    return stripped if stripped.strip() and re.search(r"\d", stripped) else latex


DECIMAL_COMMA = re.compile(r"^-?(?:0,\d+|[1-9]\d*,\d{2})$")  # `0,25`, `2,75`: a decimal comma; `2,5` lists two values


def classify_key(key: str) -> Shape:
    """The shape of an official key; the answer is then read into the same shape. A key that lists values
    (`2,5`, `{1, 2}`, `2, 5`) is the set it states whatever the spacing; a comma before exactly two digits,
    or after a leading 0, is a decimal comma (`2,75`, `0,25`), and a decimal key is never a list."""
    if DECIMAL_COMMA.match(key.strip()):
        value = key.strip().replace(",", ".")
        return Shape("scalar", (value,), decimals=decimal_places(value))
    latex = to_latex(key)
    if (bare := drop_trailing_note(latex)) != latex:
        key, latex = bare, bare
    plain = unwrap_text_commands(latex).strip()
    m = CHOICE.match(plain) or CHOICE_LABELLED.match(plain) or CHOICE_NAMED.match(plain)
    if m and (m.group(1).isupper() or plain.startswith("(")):
        label = _words(m.group(2)) if m.re is not CHOICE else ""
        return Shape("choice", (m.group(1).upper(), label) if label else (m.group(1).upper(),))
    base = parse_base(key)
    if base and (not base[0].isdigit() or base[1] != 10):
        return Shape("base", (base[0],), base=base[1])
    if is_wordy(key) and number_word(plain) is None:
        return Shape("text", (_words(key),))
    if ":" in latex and ":=" not in latex and r"\colon" not in latex:
        rhs = latex.rsplit("=", 1)[-1]  # a labelled ratio, `X:Y=6:7`, is the ratio 6:7; `A:B=1` is the value 1
        parts = split_top(rhs if ":" in rhs or "=" in latex else latex, (":",))
        if len(parts) == 1 and "=" in latex:
            key = latex = rhs.strip()
            plain = unwrap_text_commands(latex).strip()
        elif len(parts) >= 2:
            return Shape("ratio", tuple(scalar_latex(p)[0] for p in parts))
    items = _tuple_items(key)
    if items and not THOUSANDS.match(plain) and r"\infty" not in latex:  # `(-\infty, 2)` is an interval, not a pair
        return Shape("tuple", tuple(scalar_latex(p)[0] for p in items))
    if re.search(r"[<>]|\\[lg]eq?\b|\\[lg]t\b", latex) and re.search(r"\bor\b|\\lor|\\vee", plain):
        return Shape("scalar", (scalar_latex(key)[0],))  # `x < 1 or x > 3`: one set of reals, compared as such
    is_set = (
        strip_outer(latex, r"\{", r"\}") is not None
        or ((inner := strip_outer(latex, "{", "}")) is not None and len(split_top(inner)) > 1)
        or re.search(r"\s(?:and|or)\s|;|\\pm|\\mp", latex)
        or (len(split_top(latex)) > 1 and not THOUSANDS.match(plain) and not re.search(r"[\[\]]|\\cup|\\infty", latex))
    )
    if is_set:
        items = _set_items(key)
        if len(items) > 1:
            return Shape("set", tuple(scalar_latex(p)[0] for p in items))
    value, percent = scalar_latex(key)
    return Shape("scalar", (value,), percent=percent, decimals=decimal_places(value))


def read_answer(answer: str, like: Shape) -> Shape:
    """Read a model's answer into the shape of the key it is compared with."""
    latex = to_latex(answer)
    if like.kind == "choice":
        plain = unwrap_text_commands(latex).strip()
        plain = re.sub(r"^(?:option|choice|answer)\s*", "", plain, flags=re.I)
        m = CHOICE_IN_ANSWER.match(plain)
        if m:
            return Shape("choice", (m.group(1).upper(),))
        if len(like.parts) > 1 and _words(plain) == like.parts[1]:
            return Shape("choice", (like.parts[0],))  # the option's text instead of its letter
        letter, _ = choice_letter(plain, like.parts[0])
        return Shape("choice", (letter or plain,))
    if like.kind == "text":
        return Shape("text", (_words(answer),))
    if like.kind == "base":
        parsed = parse_base(answer)
        if parsed:
            return Shape("base", (parsed[0],), base=parsed[1])
        digits = unwrap_text_commands(latex).replace(" ", "").upper().lstrip("0") or "0"
        return Shape("base", (digits,), base=None)
    if like.kind == "ratio":
        latex = latex.rsplit("=", 1)[-1] if "=" in latex else latex  # `V_1:V_2 = 11:21`
        parts = split_top(LHS.sub("", latex), (":", r"\colon", " to "))
        return Shape("ratio", tuple(scalar_latex(p)[0] for p in parts))
    if like.kind == "tuple":
        items = _tuple_items(LHS.sub("", latex))
        if items is None:
            items = split_top(unwrap_text_commands(LHS.sub("", latex)))
        return Shape("tuple", tuple(scalar_latex(p)[0] for p in items))
    if like.kind == "set":
        labelled = labelled_tuples(latex) if any(p.startswith("(") for p in like.parts) else None
        if labelled:
            return Shape("set", tuple(labelled))
        return Shape("set", tuple(scalar_latex(p)[0] for p in _set_items(answer)))
    value, percent = scalar_latex(answer)
    if THOUSANDS.match(value):
        value = value.replace(",", "")
    return Shape("scalar", (value,), percent=percent, decimals=decimal_places(value))
