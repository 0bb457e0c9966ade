"""Issue 41: text from data is data. Payloads (tests/payloads.py) through the HTML renderer, onto every page
the tool writes, and through the commands that print data to a terminal."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from distill.viewer.mathhtml import render
from distill.viewer.safe_html import CSP

from .payloads import HTML_PAYLOADS, TERMINAL_PAYLOADS

FORBIDDEN_TAGS = {"script", "iframe", "style", "foreignobject", "svg", "object", "embed", "form", "annotation-xml", "base", "meta", "link"}


class Walk(HTMLParser):
    """Every element and attribute the way a browser's parser meets them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)


def dangers(fragment: str) -> list[str]:
    w = Walk()
    w.feed(fragment)
    found = [f"<{t}>" for t in w.tags if t in FORBIDDEN_TAGS]
    for tag, k, v in w.attrs:
        if k.startswith("on") or k in ("style", "srcdoc", "formaction", "xlink:href"):
            found.append(f"{tag}[{k}]")
        if k in ("href", "src") and (":" in v.split("/", 1)[0] or v.startswith("//")):
            found.append(f"{tag}[{k}={v}]")
        if k == "class" and (tag, v) not in (("code", "tex"), ("span", "math inline"), ("div", "math block")):
            found.append(f"{tag}[class={v}]")
    return found


@pytest.mark.parametrize("cls, text", HTML_PAYLOADS, ids=[c for c, _ in HTML_PAYLOADS])
def test_no_payload_survives_the_renderer(cls, text):
    out = render(text)
    assert dangers(out) == [], out


@pytest.mark.parametrize("text, shows", [
    (r"$\text{a < b}$", "a&nbsp;&lt;&nbsp;b"),          # the text shows as written
    (r"$\href{javascript:x}{click}$", '<code class="tex">'),  # TeX the converter would make a link of: shown escaped
])
def test_unsafe_tex_is_shown_not_run(text, shows):
    assert shows in render(text)


@pytest.mark.parametrize("tex", [r"$\frac{5}{12}$", r"$$\sqrt{2}+x^2$$", r"$\boxed{17}$", r"$\begin{pmatrix}1&2\\3&4\end{pmatrix}$",
                                 r"$\text{if } x \le 3$", "| a | b |\n|---|---|\n| 1 | 2 |", "**bold** and `code`"])
def test_real_mathematics_keeps_its_elements(tex):
    from distill.viewer.mathhtml import _md

    raw = _md().render(tex)  # the renderer before the sanitiser
    w1, w2 = Walk(), Walk()
    w1.feed(raw)
    w2.feed(render(tex))
    assert w1.tags == w2.tags  # the sanitiser removed no element of real mathematics


def test_every_page_carries_the_csp(tmp_path):
    from distill.viewer.site_pages import PAGE, index_page

    assert CSP in PAGE and "default-src 'none'" in CSP and "script-src 'self'" in CSP
    assert CSP in index_page() and "style=" not in index_page()  # inline styles would be refused by the policy


def _import(run_cli, tmp_path, payloads):
    src = tmp_path / "payloads.jsonl"
    src.write_text("".join(json.dumps({"id": f"pay-{i:02d}", "source": "pay", "year": 2001, "text": text, "answer": f"[/b]{i}\x1b[2J"}) + "\n"
                           for i, (_, text) in enumerate(payloads)))
    run_cli("problems", "import", "--format", "jsonl", "--source", "pay", str(src))


def _no_escape(result):
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x9b" not in result.output and "Traceback" not in result.output


def test_problems_list_and_show_print_payloads_as_data(run_cli, tmp_path):
    _import(run_cli, tmp_path, TERMINAL_PAYLOADS + HTML_PAYLOADS)
    r = run_cli("problems", "list", "--all")
    _no_escape(r)
    assert "[/bold]" in r.output and "\\x1b" in r.output  # markup printed as written, escapes shown visibly
    ids = [json.loads(line)["id"] for line in run_cli("problems", "list", "--json").output.splitlines()]
    assert len(ids) == len(TERMINAL_PAYLOADS + HTML_PAYLOADS)
    for pid in ids:
        _no_escape(run_cli("problems", "show", pid))
    _no_escape(run_cli("problems", "list", "--json"))


def test_transcripts_list_and_show_print_payloads_as_data(run_cli, tmp_path, workspace):
    from distill.corpus.transcripts import Transcript, TranscriptMessage, TranscriptStore

    _import(run_cli, tmp_path, TERMINAL_PAYLOADS)
    store = TranscriptStore(workspace / "transcripts")
    for i, (_, text) in enumerate(TERMINAL_PAYLOADS):
        store.put(Transcript(problem_id=f"pay-{i:02d}", source="pay", year=2001, status="rejected", key=f"[/b]{i}", fingerprint="f",
                             started_at="now", stop_reason=text, error=None,
                             messages=[TranscriptMessage(source="user", type="TextMessage", content=text),
                                       TranscriptMessage(source="solver", type="TextMessage", content=text, thought=text)]))
    _no_escape(run_cli("transcripts", "list"))
    for i in range(len(TERMINAL_PAYLOADS)):
        for extra in ((), ("--thoughts",), ("--raw",), ("--json",)):
            _no_escape(run_cli("transcripts", "show", f"pay-{i:02d}", *extra))
    _no_escape(run_cli("corpus", "status"))


def test_an_error_line_quoting_data_shows_its_controls(run_cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x\\u001b]0;pwned\\u0007", "text": "t", "answer": "1", "year": "MMXX\\u001b[2J"}\n')
    r = run_cli("problems", "import", "--format", "jsonl", "--source", "x", str(bad), ok=False)
    assert r.exit_code == 2 and "\x1b" not in r.output and "Traceback" not in r.output


def test_plain_and_json_text():
    from distill.safe_text import json_text, plain

    assert plain("a\x1b[31mb\x9b\tc\n") == "a\\x1b[31mb\\x9b\tc\n"
    assert json.loads(json_text(json.dumps({"t": "\x9b\x7f"}, ensure_ascii=False))) == {"t": "\x9b\x7f"}
    assert re.search(r"\\u009b", json_text(json.dumps("\x9b", ensure_ascii=False)))
