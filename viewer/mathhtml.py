"""Markdown with mathematics as HTML: LaTeX becomes MathML at build time (browsers render MathML
natively), so a page needs no script, font or network to show a fraction."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from .safe_html import clean

# R1 writes \[ ... \] and \( ... \); the dollar-math plugin reads $$ ... $$ and $ ... $
DISPLAY = re.compile(r"\\\[(.+?)\\\]", re.S)
INLINE = re.compile(r"\\\((.+?)\\\)", re.S)


# the same formula (a key, `x^2`, a boxed answer) recurs across pages: convert it once; bounded, so a
# 100k-page site holds the formulas in use, not every formula it has seen
# TeX the converter turns into links, styles or classes: shown as escaped TeX, never as MathML
UNSAFE_TEX = re.compile(r"\\(?:href|url|style|class|cssId|htmlClass|htmlId|htmlStyle|htmlData|data|unicode|require|bbox)(?![A-Za-z])")
TEXT_ARG = re.compile(r"(\\(?:text[a-z]*|mbox|hbox|operatorname\*?)\s*\{)((?:[^{}]|\{[^{}]*\})*)(\})")


def _text_args_escaped(tex: str) -> str:
    """latex2mathml copies a \\text{..} argument into <mtext> as it is, where a browser reads HTML again:
    its `<`, `>` and `&` are written as entities first, so they show as themselves."""
    return TEXT_ARG.sub(lambda m: m.group(1) + html.escape(m.group(2), quote=False) + m.group(3), tex)


@lru_cache(maxsize=1 << 12)
def mathml(tex: str, display: bool = False) -> str:
    """MathML for one formula; the TeX itself (escaped) when latex2mathml cannot read it or would make a link,
    a style or a class of it."""
    from latex2mathml.converter import convert

    if UNSAFE_TEX.search(tex):
        return f'<code class="tex">{html.escape(tex)}</code>'
    try:
        return convert(_text_args_escaped(tex.strip()), display="block" if display else "inline")
    except Exception:
        return f'<code class="tex">{html.escape(tex)}</code>'


@lru_cache(maxsize=1)
def _md() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")
    md.use(dollarmath_plugin, allow_labels=False, double_inline=True,
           renderer=lambda content, options: mathml(content, bool(options.get("display_mode"))))
    return md


def render(text: str | None) -> str:
    """Markdown + LaTeX (in $, $$, \\( \\), \\[ \\]) to HTML; raw HTML in the text is escaped, and the
    result passes the allow-list sanitiser (safe_html.clean): the one way data becomes HTML."""
    if not text:
        return ""
    t = DISPLAY.sub(lambda m: "\n$$" + m.group(1).strip() + "$$\n", text)
    t = INLINE.sub(lambda m: "$" + m.group(1).strip() + "$", t)
    t = re.sub(r"(?<![$\\])(\\boxed\{(?:[^{}]|\{[^{}]*\})*\})", r"$\1$", t)  # a bare \boxed{..} outside any math delimiters
    return clean(_md().render(t))  # text from data is data: only allowed elements and attributes reach a page
