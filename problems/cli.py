"""`distill problems`: import, list, inspect and count competition problems."""

from __future__ import annotations

import json
from pathlib import Path

import click

from distill.safe_text import data, json_text
from rich.table import Table

from distill.context import AppContext, pass_app
from distill.errors import DistillError

from .importers import FORMATS, import_paths, parse_field_map
from .select import filter_problems
from .store import ProblemStore, dumps_problem, problem_stats


@click.group("problems")
def problems_group() -> None:
    """Import competition problems with answer keys, and inspect them."""


@problems_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Input format (auto-detected when unambiguous).")
@click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS", help="Generic JSONL field mapping, e.g. text=problem.")
@click.option("--source", help="Source name (default: obryan for O'Bryan files, the file name for generic JSONL).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def import_cmd(app: AppContext, paths: tuple[Path, ...], fmt: str | None, fields: tuple[str, ...], source: str | None, as_json: bool) -> None:
    """Import problem files or folders into the workspace (idempotent)."""
    fmap = parse_field_map(fields) if fields else None
    if fields and fmt not in (None, "jsonl"):
        raise DistillError("--field applies to --format jsonl only")
    problems = import_paths(paths, fmt, fmap, source)
    store = ProblemStore(app.workspace.ensure().problems_file)
    result = store.merge(problems)
    result["imported"] = len(problems)
    result["flagged_missing_answer"] = sum(1 for p in problems if "missing_answer" in p.flags)
    result["flagged_placeholder_text"] = sum(1 for p in problems if "placeholder_text" in p.flags)
    if as_json:
        click.echo(json.dumps(result))
        return
    app.out.print(
        f"Imported {len(problems)} problems: {result['added']} new, {result['updated']} updated, "
        f"{result['unchanged']} unchanged; workspace holds {result['total']}."
    )
    if result["flagged_missing_answer"]:
        app.out.print(f"[yellow]{result['flagged_missing_answer']} have no answer key: kept, flagged, skipped by corpus runs.[/]")
    if result["flagged_placeholder_text"]:
        app.out.print(f"[yellow]{result['flagged_placeholder_text']} have a placeholder instead of a question: kept, flagged, skipped.[/]")


@problems_group.command("list")
@click.option("--source", help="Only this source (obryan, math500, ...).")
@click.option("--year", "years", help="Year or range, e.g. 2019 or 2011-2020.")
@click.option("--section", help="Only this section (full name or its first word, e.g. junior).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Show at most N problems.")
@click.option("--all", "show_all", is_flag=True, help="Show every matching problem.")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line (every match).")
@pass_app
def list_cmd(app: AppContext, source: str | None, years: str | None, section: str | None, limit: int, show_all: bool, as_json: bool) -> None:
    """List problems in the workspace."""
    from .select import parse_years

    problems = filter_problems(
        ProblemStore(app.workspace.problems_file).load(),
        source=source,
        years=parse_years(years) if years else None,
        section=section,
    )
    if as_json:
        for p in problems:
            click.echo(json_text(json.dumps(p.model_dump(mode="json"), ensure_ascii=False)))
        return
    shown = problems if show_all else problems[:limit]
    title = f"{len(problems)} problems" + (f" (first {len(shown)}; --all shows every one)" if len(shown) < len(problems) else "")
    table = Table("id", "answer", "text", "flags", title=title)
    for p in shown:
        text = p.text if len(p.text) <= 70 else p.text[:67] + "..."
        flags = ",".join(p.flags + (["twin"] if p.twins else []))
        table.add_row(data(p.id), data(p.answer), data(text), data(flags))  # text from data is data: never markup
    app.out.print(table)


@problems_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def stats_cmd(app: AppContext, as_json: bool) -> None:
    """Count problems by source, year and section; report duplicates and missing keys."""
    stats = problem_stats(ProblemStore(app.workspace.problems_file).load())
    if as_json:
        click.echo(json.dumps(stats))
        return
    print_stats(app, stats)


def print_stats(app: AppContext, stats: dict) -> None:
    app.out.print(
        f"[bold]{stats['total']}[/] problems, {stats['usable']} with answer keys, "
        f"{stats['missing_answer']} missing, {stats['placeholder_text']} placeholder texts, {stats['duplicates']} repeated texts (twins)."
    )
    for key in ("by_source", "by_year", "by_section"):
        if stats[key]:
            table = Table(key.removeprefix("by_"), "problems")
            for k, v in stats[key].items():
                table.add_row(data(k), str(v))
            app.out.print(table)


@problems_group.command("show")
@click.argument("problem_id")
@pass_app
def show_cmd(app: AppContext, problem_id: str) -> None:
    """Show one problem as JSON."""
    click.echo(json_text(dumps_problem(ProblemStore(app.workspace.problems_file).get(problem_id))))
