"""`distill demo`: run the pipeline offline on the bundled sample problems."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from distill.context import AppContext, pass_app
from distill.corpus.importers import import_paths
from distill.corpus.problems_cli import print_stats
from distill.corpus.store import ProblemStore, problem_stats
from distill.samples import SAMPLE_SOURCE, sample_files
from distill.workspace import Workspace


@click.command("demo")
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path), help="Workspace for the demo (default: a new temporary folder).")
@pass_app
def demo_cmd(app: AppContext, demo_dir: Path | None) -> None:
    """Run the pipeline offline on the bundled sample problems (no keys, no GPU)."""
    root = demo_dir or Path(tempfile.mkdtemp(prefix="distill-demo-"))
    ws = Workspace(root.resolve()).ensure()
    out = app.out
    out.rule("distill demo")
    out.print(f"workspace: {ws.root}")
    out.rule("1. problems")
    problems = import_paths(sample_files(), source=SAMPLE_SOURCE)
    result = ProblemStore(ws.problems_file).merge(problems)
    out.print(f"imported {len(problems)} bundled sample problems ({result['added']} new)")
    print_stats(app, problem_stats(ProblemStore(ws.problems_file).load()))
    out.print(f"[green]demo finished[/]; workspace: {ws.root}")
