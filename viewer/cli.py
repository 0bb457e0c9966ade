"""`distill transcripts html`: the transcripts group of the corpus, with the viewer's command added."""

from __future__ import annotations

from pathlib import Path

import click

from distill.params import OutPath

from distill.context import AppContext, pass_app
from distill.corpus.transcripts_cli import _stores, transcripts_group
from distill.errors import DistillError
from distill.problems.select import parse_years


@transcripts_group.command("html")
@click.option("--out", "out_dir", required=True, type=OutPath(file_okay=False), help="Folder for the site.")
@click.option("--source", help="Only this source.")
@click.option("--year", help="Year or range.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes rendering pages [default: every core].")
@pass_app
def thtml_cmd(app: AppContext, out_dir: Path, source: str | None, year: str | None, jobs: int | None) -> None:
    """Write a static site of the transcripts (open index.html from disk; no server, no network)."""
    from distill.problems.store import ProblemStore

    from .site import build_site

    years = set(parse_years(year)) if year else None
    problems = ProblemStore(app.workspace.problems_file).select(  # places in the file, in id order: flat memory
        lambda p: (source is None or p.source == source) and (years is None or p.year in years), by_id=True)
    result = build_site(problems, _stores(app), out_dir, jobs=jobs)
    if not result["problems"]:
        raise DistillError("no transcripts for that selection; run `distill corpus run` first")
    app.out.print(f"wrote {result['problems']} problem pages ({result['rendered']} built, {result['unchanged']} unchanged) "
                  f"-> {out_dir / 'index.html'}")


__all__ = ["transcripts_group"]
