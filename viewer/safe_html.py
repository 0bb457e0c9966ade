"""Text from data is data, in HTML: everything the renderer makes of a problem, a reply, a thought or a report
passes one allow-list sanitiser (nh3, the Rust ammonia binding, which keeps MathML intact when its elements
are allowed) before it reaches a page, and every page carries a Content-Security-Policy.

Allowed: the HTML markdown-it emits (paragraphs, emphasis, lists, tables, code, headings, relative links and
images) and the MathML elements latex2mathml emits, with their presentation attributes only. Not allowed from
data: any event handler, `style`, `class` (but the renderer's own: `code.tex`, `span.math`, `div.math`), `id`, `<script>`, `<iframe>`, `<style>`,
`<foreignObject>`, `<annotation-xml>`, SVG, forms, and any URL with a scheme (`javascript:`, `data:`,
`http:`): a link or image from data points inside the site or nowhere.
"""

from __future__ import annotations

from functools import lru_cache

# The policy every page the tool writes carries: nothing from anywhere, but the site's own script and style
# files and images from the site itself or data: URLs (an inline handler that slipped through still does not run).
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'

HTML_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "pre", "code", "em", "strong",
    "a", "img", "table", "thead", "tbody", "tr", "th", "td", "del", "s", "sup", "sub", "span", "div",
}
# the only classes data's HTML may carry: the renderer's own (the math wrappers, escaped TeX)
CLASSES = {"code": {"tex"}, "span": {"math inline"}, "div": {"math block"}}
MATHML_TAGS = {
    "math", "menclose", "merror", "mfenced", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover", "mpadded", "mphantom",
    "mprescripts", "none", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd",
    "mtext", "mtr", "munder", "munderover", "semantics",
}
MATHML_ATTRIBUTES = {
    "display", "mathvariant", "notation", "stretchy", "fence", "form", "separator", "separators", "lspace", "rspace", "accent",
    "accentunder", "movablelimits", "largeop", "symmetric", "minsize", "maxsize", "columnalign", "rowalign", "columnspacing",
    "rowspacing", "columnlines", "rowlines", "frame", "framespacing", "width", "height", "depth", "linethickness",
    "displaystyle", "scriptlevel", "open", "close", "columnspan", "rowspan", "align", "equalrows", "equalcolumns", "voffset",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "math": {"xmlns", *MATHML_ATTRIBUTES},
    **{t: set(MATHML_ATTRIBUTES) for t in MATHML_TAGS if t != "math"},
}


def _only_relative(tag: str, attr: str, value: str) -> str | None:
    """A URL from data stays only when it is relative (no scheme, not protocol-relative)."""
    if attr == "class":
        return value if value in CLASSES.get(tag, ()) else None
    if attr in ("href", "src"):
        v = value.strip()
        head = v.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if v.startswith("//") or ":" in head:
            return None
    return value


@lru_cache(maxsize=1)
def _cleaner():
    import nh3

    return nh3.Cleaner(tags=HTML_TAGS | MATHML_TAGS, attributes=ATTRIBUTES, url_schemes=set(), attribute_filter=_only_relative,
                       link_rel="noopener noreferrer", strip_comments=True)


def clean(fragment: str) -> str:
    """An HTML fragment made from data, with only the allowed elements and attributes left."""
    if not fragment:
        return ""
    return _cleaner().clean(fragment)
