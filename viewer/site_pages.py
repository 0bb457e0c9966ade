"""The site's HTML, from records alone (no store, no files): a page per problem with every round, the
verdicts, the rewrite and the length levels side by side; the index with its rows. Mathematics is
MathML built here (`mathhtml`); `site` decides which pages to build and writes them."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from distill.problems.schema import Problem

from distill.corpus.levels import LEVELS
from .mathhtml import render as _render
from .safe_html import CSP_META
from distill.corpus.samples import ProblemSamples
from distill.corpus.transcripts import LevelText, Transcript

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">""" + CSP_META + """<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="{root}style.css"></head>
<body>{body}</body></html>
"""


def page_file(pid: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", pid) + ".html"


def _e(text: Any) -> str:
    return html.escape(str(text))


def _prose(text: Any) -> str:
    """A status or verdict line: escaped, with its `code` spans (the extracted answer) set as code, not raw backticks."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))


def _rounds(t: Transcript, render: Any) -> list[str]:
    """One block per Solver answer: its reasoning (collapsed), the answer, and the Verifier's check and reply."""
    blocks, k = [], 0
    msgs = [m for m in t.messages if m.source != "user"]
    for i, m in enumerate(msgs):
        if m.source != "solver":
            continue
        rv = t.verdicts[k] if k < len(t.verdicts) else None
        k += 1
        parts = [f'<div class="round" data-round="{k}"><h3>Round {k}</h3>']
        if m.thought:
            parts.append(f"<details><summary>Solver reasoning ({len(m.thought.split())} words)</summary>{render(m.thought)}</details>")
        parts.append(f"<h4>Solver answer</h4>{render(m.content)}")
        if rv is not None:
            v = rv.verdict
            detail = "cut off before an answer (truncated)" if rv.truncated else (
                f"{'correct' if v.correct else 'not correct' if v.correct is False else 'undecided'}; extracted <code>{_e(v.extracted)}</code>; "
                f"method {_e(v.method)}; {_prose(v.reason)}" if v else "")
            parts.append(f'<p class="verdict">Verifier: {detail}</p>')
        reply = next((x for x in msgs[i + 1:] if x.source == "verifier"), None)
        if reply is not None and not reply.content.startswith("APPROVED"):
            parts.append(f"<h4>Verifier reply</h4>{render(reply.content)}")
        parts.append("</div>")
        blocks.append("".join(parts))
    return blocks


def problem_page(p: Problem, t: Transcript, levels_by_name: dict[str, LevelText], ps: ProblemSamples) -> str:
    # a page shows the reasoning and the solution twice (in its round, in the trace card): render each text once
    render = lru_cache(maxsize=None)(_render)
    meta = [("key", f"<code>{_e(t.key)}</code>"), ("status", f'<span class="{t.status}">{_e(t.status)}</span> — {_prose(t.reason)}'),
            ("year / section", f"{_e(p.year)} / {_e(p.section)}"), ("rounds", _e(t.rounds)), ("stop reason", _e(t.stop_reason)),
            ("pass rate", "–" if ps.pass_rate is None else f"{ps.pass_rate:.2f} ({ps.accepted} of {ps.decided} samples verified)"),
            ("tokens", f"{t.usage.prompt_tokens:,} prompt, {t.usage.completion_tokens:,} completion"), ("cost", f"${t.cost_usd:.4f}"),
            ("models", _e(", ".join(f"{r}: {d.get('model')}" for r, d in t.models.items()))),
            ("templates", "<br>".join(f"{_e(n)}: <code>{_e(h[:12])}</code>" for n, h in sorted(t.templates.items())))]
    body = [f'<p><a href="../index.html">← all problems</a></p><h1>{_e(p.id)}</h1>', "<h2>Problem</h2>", render(p.text),
            '<table class="meta">' + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in meta) + "</table>",
            "<h2>Conversation</h2>", *_rounds(t, render)]
    rewrites = [m for m in t.messages if m.source == "formatter"]
    if rewrites:
        body += ["<h2>Formatter rewrite</h2>"] + [f'<div class="card">{render(m.content)}</div>' for m in rewrites]
    levels = []  # (level, its HTML, words, note)
    if t.solution:
        levels.append(("R1", render(t.solution), len(t.solution.split()), None))
    for lv in LEVELS[1:]:
        lt = levels_by_name.get(lv)
        if lt is not None and lt.text:
            note = "off target" if lt.off_target else (lt.problem or None)
            levels.append((lv, render(lt.text), lt.words, note))
    if t.thought and t.solution:  # the training target with its reasoning, as the tags show it
        levels.append(("trace", f"<p>&lt;think&gt;</p>\n{render(t.thought)}<p>&lt;/think&gt;</p>\n{render(t.solution)}",
                       len(t.thought.split()) + len(t.solution.split()), None))
    if levels:
        cards = [f'<div class="card level" data-level="{lv}"><h3>{lv} · {words} words{f" · {_e(note)}" if note else ""}</h3>{card}</div>'
                 for lv, card, words, note in levels]
        body += ["<h2>Length levels</h2>", f'<div class="levels">{"".join(cards)}</div>']
    if len(ps.samples) > 1:
        rows = "".join(f"<tr><td>{s.sample}</td><td class='{s.status}'>{s.status}</td><td>{len((s.solution or '').split())}</td></tr>"
                       for s in ps.samples)
        body += ["<h2>Samples</h2>", f"<table><tr><th>sample</th><th>status</th><th>solution words</th></tr>{rows}</table>"]
    return PAGE.format(title=_e(p.id), root="../", body="\n".join(body))


@dataclass(frozen=True)
class PageJob:
    """Everything one problem page is built from (so a worker needs no store) and its hash."""

    problem: Problem
    transcript: Transcript
    levels: dict[str, LevelText]
    samples: ProblemSamples
    file: str


ROWS = "\x00rows\x00"


def index_page() -> str:
    """index.html with `ROWS` where the JSON array of rows goes."""
    head = "".join(f'<th data-sort="{k}">{label}</th>' if k else f"<th>{label}</th>" for k, label in
                   (("id", "problem"), ("year", "year"), ("section", "section"), ("status", "status"), ("rounds", "rounds"),
                    ("pass_rate", "pass rate"), ("tokens", "tokens"), ("words", "words"), (None, "levels")))
    filters = "".join(f'<label>{n} <select id="{n}"><option value="">all</option></select></label>' for n in ("year", "section", "status", "level"))
    body = (f"<h1>Transcripts</h1><div class='filters'>{filters}"
            "<label>rounds ≥ <input id='rounds' class='narrow' type='number' min='0' value='0'></label>"
            "<label>pass rate ≥ <input id='pass' class='narrow' type='number' min='0' max='1' step='0.25' value='0'></label>"
            "<input id='search' type='search' placeholder='search problems'><span id='count' class='muted'></span></div>"
            f"<table id='problems'><thead><tr>{head}</tr></thead><tbody></tbody></table>"
            f"<script id='data' type='application/json'>[{ROWS}]</script><script src='index.js'></script>")
    return PAGE.format(title="distill transcripts", root="", body=body)


def row_json(row: dict[str, Any]) -> str:
    """An index row as index.html holds it (a problem text cannot close the script element)."""
    return json.dumps(row).replace("</", "<\\/")


def index_row(j: PageJob) -> dict[str, Any]:
    p, t, ps = j.problem, j.transcript, j.samples
    lvls = (["R1"] if t.solution else []) + [lv for lv in LEVELS[1:] if (lt := j.levels.get(lv)) and lt.ok] \
        + (["trace"] if t.thought and t.solution else [])
    return {"id": p.id, "file": j.file, "year": p.year or "", "section": p.section or "", "status": t.status,
            "rounds": t.rounds, "pass_rate": ps.pass_rate, "tokens": t.usage.total, "words": len((t.solution or "").split()),
            "levels": lvls, "search": (p.id + " " + p.text).lower()}
