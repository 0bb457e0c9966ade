"""`distill transcripts`: read and share the stored Solver/Verifier conversations."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import click

from distill.params import Count, OutPath

from distill.safe_text import data, json_text, plain
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from distill.context import AppContext, pass_app
from distill.errors import DistillError
from distill.problems.select import parse_years

from .transcripts import Transcript, TranscriptStore


def _stores(app: AppContext) -> TranscriptStore:
    return TranscriptStore(app.workspace.ensure().transcripts_dir)


@click.group("transcripts")
def transcripts_group() -> None:
    """Inspect and share the stored Solver/Verifier transcripts."""


@transcripts_group.command("list")
@click.option("--year", help="Year or range.")
@click.option("--status", type=click.Choice(["accepted", "rejected", "failed"]), help="Only this status.")
@click.option("--offset", type=Count(0), default=0, show_default=True, help="Skip the first N matching transcripts.")
@click.option("--limit", type=Count(1), help="At most N transcripts.")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary per line.")
@pass_app
def tlist_cmd(app: AppContext, year, status, offset, limit, as_json) -> None:
    """List transcripts with status, rounds, tokens and reason."""
    years = set(parse_years(year)) if year else None
    matching = (t for t in _stores(app).all() if (years is None or t.year in years) and (status is None or t.status == status))
    rows = itertools.islice(matching, offset, None if limit is None else offset + limit)  # read one by one, printed as read
    if as_json:
        for t in rows:
            click.echo(json.dumps({"problem_id": t.problem_id, "sample": t.sample, "year": t.year, "status": t.status, "rounds": t.rounds,
                                   "tokens": t.usage.total, "reason": t.reason, "stop_reason": t.stop_reason}))
        return
    table = Table("problem", "sample", "status", "rounds", "tokens", "reason")
    colour = {"accepted": "green", "rejected": "yellow", "failed": "red"}
    for t in rows:
        table.add_row(data(t.problem_id), str(t.sample), data(t.status, colour[t.status]), str(t.rounds), f"{t.usage.total:,}", data(t.reason[:60]))
    shown = f"{table.row_count} transcripts" + (f" from #{offset + 1}" if offset else "")
    table.title = shown + (" (--offset/--limit page further)" if limit is not None and table.row_count == limit else "")
    app.out.print(table)


def render_markdown(t: Transcript, thoughts: bool = True) -> str:
    lines = [f"# {t.problem_id}{f' sample {t.sample}' if t.sample else ''} ({t.status})", "", f"- key: `{t.key}`", f"- reason: {t.reason}", f"- stop reason: {t.stop_reason}",
             f"- rounds: {t.rounds}; tokens: {t.usage.total:,}; calls: {t.calls}", ""]
    for m in t.messages:
        lines.append(f"## {m.source} ({m.type})")
        if m.thought and thoughts:
            lines.append("<details><summary>thought</summary>\n\n" + m.thought + "\n\n</details>\n")
        lines.extend([m.content, ""])
    return "\n".join(lines)


@transcripts_group.command("show")
@click.argument("problem_id")
@click.option("--sample", type=click.IntRange(min=0), default=0, show_default=True, help="Which sample (with `corpus run --samples K`).")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
@click.option("--raw", is_flag=True, help="Plain text, no formatting.")
@click.option("--thoughts", is_flag=True, help="Show the Solver's reasoning in full.")
@pass_app
def tshow_cmd(app: AppContext, problem_id, sample, as_json, raw, thoughts) -> None:
    """Show one conversation, agent by agent."""
    t = _stores(app).get(problem_id, sample)
    if t is None:
        what = f"{problem_id!r}" + (f" sample {sample}" if sample else "")
        raise DistillError(f"no transcript for {what} (see `distill transcripts list`)")
    if as_json:
        click.echo(json_text(t.model_dump_json(indent=2)))
        return
    if raw:
        click.echo(plain(render_markdown(t, thoughts)))
        return
    colour = {"accepted": "green", "rejected": "yellow", "failed": "red"}[t.status]
    # Text objects, never markup: a transcript is LaTeX, and `\\[`, `[x]` or `[/b]` must print as written
    head = Text.assemble("key ", data(t.key, "bold"), data(f" · {t.rounds} rounds · {t.usage.total:,} tokens · {t.reason}\nstop: {t.stop_reason}"))
    app.out.print(Panel.fit(head, title=Text.assemble(data(f"{t.problem_id}{f' sample {t.sample}' if t.sample else ''} "), data(t.status, colour))))
    style = {"user": "cyan", "solver": "magenta", "verifier": "green", "formatter": "blue"}
    for m in t.messages:
        body = data(m.content)
        if m.thought:
            note = f"thought: {m.thought}\n\n" if thoughts else f"(thought: {len(m.thought.split())} words; --thoughts shows it)\n"
            body = Text.assemble(data(note, "dim"), body)
        app.out.print(Panel(body, title=Text(f"{m.source} · {m.type}"), title_align="left", border_style=style.get(m.source, "white")))
    if t.error:
        app.out.print(Text.assemble(("error: ", "red"), data(t.error)))


@transcripts_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["md", "jsonl"]), default="jsonl", show_default=True)
@click.option("--out", "out_path", required=True, type=OutPath(dir_okay=False), help="Output file.")
@click.option("--status", type=click.Choice(["accepted", "rejected", "failed"]), help="Only this status.")
@pass_app
def texport_cmd(app: AppContext, fmt, out_path, status) -> None:
    """Export transcripts as Markdown or JSONL for sharing."""
    from distill.io import atomic_write_jsonl, atomic_write_text

    rows = (t for t in _stores(app).all() if status is None or t.status == status)  # in id order, one at a time
    if fmt == "jsonl":
        n = atomic_write_jsonl(out_path, (t.model_dump(mode="json") for t in rows))
    else:
        parts = [render_markdown(t) for t in rows]
        n = len(parts)
        atomic_write_text(out_path, "\n\n---\n\n".join(parts) + "\n")
    app.out.print(f"wrote {n} transcripts to {out_path}")
