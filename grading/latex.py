"""Text-level rewriting: unicode, plain-text maths and LaTeX spacing to the LaTeX math-verify reads,
and bracket-aware splitting. No knowledge of answer shapes here (that is normalize.py)."""

from __future__ import annotations

import re

UNICODE_FRACTIONS = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
    "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8),
}
UNICODE_SIMPLE = {
    "−": "-", "–": "-", "—": "-", "×": r"\times ", "·": r"\cdot ", "⋅": r"\cdot ", "÷": "/",
    "π": r"\pi ", "∞": r"\infty ", "∪": r"\cup ", "∩": r"\cap ", "±": r"\pm ", "∓": r"\mp ",
    "°": r"^\circ", "²": "^2", "³": "^3", "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "θ": r"\theta ",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}
def unwrap_text_commands(s: str) -> str:
    """\\text{..}, \\textbf{..}, \\mathrm{..}, \\mbox{..} -> their content."""
    prev = None
    while prev != s:
        prev = s
        s = re.sub(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}", r"\1", s)
    return s


def prose_words(text: str) -> list[str]:
    """The words of three letters or more a text holds outside LaTeX command and environment names (`\\frac`,
    `\\begin{pmatrix}`): what it says in prose. Callers leave out the words they count as maths or units."""
    return re.findall(r"(?<![\\A-Za-z])[A-Za-z]{3,}", re.sub(r"\\(?:begin|end)\{[a-z]+\*?\}|\\[A-Za-z]+", " ", text))


def _sqrt_unicode(s: str) -> str:
    """`20√21` -> `20\\sqrt{21}`, `√(x+1)` -> `\\sqrt{x+1}`, `b√a` -> `b\\sqrt{a}`."""
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch != "√":
            out.append(ch)
            i += 1
            continue
        j = i + 1
        if j < len(s) and s[j] == "(":
            depth, k = 1, j + 1
            while k < len(s) and depth:
                depth += {"(": 1, ")": -1}.get(s[k], 0)
                k += 1
            out.append(r"\sqrt{" + s[j + 1 : k - 1] + "}")
            i = k
            continue
        m = re.match(r"-?\d+(?:\.\d+)?|\\pi|[A-Za-z]", s[j:])
        if m:
            out.append(r"\sqrt{" + m.group() + "}")
            i = j + m.end()
        else:
            out.append(r"\sqrt")
            i = j
    return "".join(out)


PLAIN_FUNCS = r"arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc|log|ln|exp"
RELATIONS = ((">=", r"\geq "), ("<=", r"\leq "), ("!=", r"\neq "), ("=>", r"\Rightarrow "), (r"\lt", "<"), (r"\gt", ">"),
             (r"\ge ", r"\geq "), (r"\le ", r"\leq "), (r"\ne ", r"\neq "))


def _plain_math(s: str) -> str:
    """Plain-text maths a model types outside LaTeX: pi, sqrt(x), cot x, >=, <=, !=, `U` between intervals."""
    s = re.sub(r"(?<![\\A-Za-z])pi(?![A-Za-z])", r"\\pi ", s)
    s = re.sub(r"(?<![\\A-Za-z])sqrt\s*\{", r"\\sqrt{", s)
    s = re.sub(r"(?<![\\A-Za-z])sqrt\s*\(", "√(", s)
    s = re.sub(rf"(?<![\\A-Za-z])({PLAIN_FUNCS})(?=\s*[\s(^{{0-9]|\s*\\)", r"\\\1", s)
    s = re.sub(r"([)\]])\s*U\s*([(\[])", r"\1 \\cup \2", s)
    for src, dst in RELATIONS:
        s = s.replace(src, dst)
    return s


def unicode_to_latex(s: str) -> str:
    """Only the unicode maths (√, π, ½, ≤ ...) of a longer text, rewritten as LaTeX."""
    for src, dst in UNICODE_SIMPLE.items():
        s = s.replace(src, dst)
    for ch, (a, b) in UNICODE_FRACTIONS.items():
        s = s.replace(ch, rf"\frac{{{a}}}{{{b}}}")
    return _sqrt_unicode(s)


def to_latex(s: str) -> str:
    """Unicode and plain-text maths to LaTeX that math-verify reads; strips delimiters and spacing."""
    s = s.strip()
    s = re.sub(r"(\d)\s*(?:,\s*\\!|\{,\})\s*(?=\d{3})", r"\1", s)  # 10,\!080 and 10{,}080 are thousands
    s = s.replace(r"\$", "").replace("$", "")
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    for src, dst in UNICODE_SIMPLE.items():
        s = s.replace(src, dst)
    for ch, (a, b) in UNICODE_FRACTIONS.items():
        # `2½` is a mixed number; `¾b` a coefficient
        s = re.sub(rf"(\d){ch}", rf"(\1+\\frac{{{a}}}{{{b}}})", s)
        s = s.replace(ch, rf"\frac{{{a}}}{{{b}}}")
    s = _plain_math(s)
    s = _sqrt_unicode(s)
    s = re.sub(r"(?i)\binfinity\b", r"\\infty ", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = s.replace(r"\varnothing", r"\emptyset")
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])", "", s)
    s = re.sub(r"\\(?:displaystyle|limits)", "", s)
    s = re.sub(r"\\[,;:!]|(?<!\\)\\ |~", " ", s)
    s = s.replace("{,}", ",")
    # `3 \pmod{7}`, `3 (\text{mod } 7)`, `3 (\bmod 7)` are 3 (a congruence's modulus, not an operation like `7 \bmod 5`)
    s = re.sub(r"\s*(?:\\pmod\s*\{?\s*\w+\s*\}?|\(\s*(?:\\(?:text|mathrm|operatorname)\{)?\s*\\?b?mod\s*\}?\s*\w+\s*\))\s*$", "", s)
    s = re.sub(r"(?<=/)(\d{1,3}),(\d{3})(?![\d,])", r"\1\2", s)  # 209/14,400
    # plain a/b binds tighter than juxtaposition: `9/17 i` is (9/17)i
    s = re.sub(r"(?<![\w.}^])(\d+)\s*/\s*(\d+)(?![\d.])", r"\\frac{\1}{\2}", s)
    return " ".join(s.split())


def strip_outer(s: str, left: str, right: str) -> str | None:
    """Content of s if it is wrapped by one matching left/right pair, else None."""
    if not (s.startswith(left) and s.endswith(right)):
        return None
    inner = s[len(left) : len(s) - len(right)]
    depth = 0
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
    return inner if depth == 0 else None


def split_top(s: str, seps: tuple[str, ...] = (",",)) -> list[str]:
    """Split on separators that are not inside brackets or braces."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0:
            hit = next((sep for sep in seps if s.startswith(sep, i)), None)
            if hit:
                parts.append("".join(cur).strip())
                cur = []
                i += len(hit)
                continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur).strip())
    return [p for p in parts if p]
