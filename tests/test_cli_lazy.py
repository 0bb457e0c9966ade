"""Stage groups load only when their command runs, and every one of them is still reachable."""

from __future__ import annotations

import pytest

import subprocess
import sys

import click
from click.testing import CliRunner
from distill.cli import STAGES, cli


def test_every_stage_resolves_to_a_click_command_and_is_listed_in_help():
    ctx = click.Context(cli)
    for name in STAGES:
        assert isinstance(cli.get_command(ctx, name), click.Command), name
    out = CliRunner().invoke(cli, ["--help"]).output
    for name in (*STAGES, "config"):
        assert f"  {name} " in out, name
    corpus_help = CliRunner().invoke(cli, ["corpus", "--help"]).output
    for name in ("run", "levels", "status", "export", "decontaminate"):
        assert f"  {name} " in corpus_help, name


@pytest.mark.slow
def test_a_corpus_command_does_not_import_the_other_stages():
    code = (
        "import sys\n"
        "from distill.cli import cli\n"
        "try:\n    cli.main(['corpus', 'run', '--help'], prog_name='distill')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in (['distill', 'evaluation'], ['distill', 'finetune'],"
        " ['distill', 'study'], ['distill', 'demo']) or m == 'distill.corpus.export_cli'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
