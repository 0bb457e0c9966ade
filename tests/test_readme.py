"""The README's and the guide's commands hold: every `distill ...` it shows names a real command with real options, and
the examples that can run offline do run (in a temporary workspace, against the bundled samples).
Examples that need a DeepSeek key or a Mac are listed below by name and only checked for their options."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest

from distill.demo.samples import samples_dir

ROOT = Path(__file__).resolve().parents[1]
FRONT = (ROOT / "README.md").read_text(encoding="utf-8")
# the README and the guide (docs/): every command either shows is checked, and the offline examples run
README = "\n\n".join([FRONT, *(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").rglob("*.md")))])

# Shown but not run here: what each needs.
NOT_RUN = {
    "A real run (DeepSeek key, a Mac)": "a DeepSeek key and Qwen2.5-7B on Apple Silicon",
}


def fenced_blocks() -> list[tuple[str, list[str]]]:
    """(heading above the block, its `distill ...` lines without comments) for every ```bash block."""
    out, heading = [], ""
    for part in re.split(r"(^#+ [^\n]*$|^```bash\n.*?^```$)", README, flags=re.M | re.S):
        if part.startswith("#"):
            heading = part.lstrip("# ").strip()
        elif part.startswith("```bash"):
            body = re.sub(r"\\\n\s*", " ", "\n".join(part.splitlines()[1:-1]))  # a command continued with `\` is one line
            lines = [ln.split("  #")[0].split(" # ")[0].strip() for ln in body.splitlines()]
            out.append((heading, [ln for ln in lines if ln.startswith("distill ")]))
    return out


def inline_commands() -> list[str]:
    return sorted(set(re.findall(r"`(distill [^`]+)`", README)))


def expand(command: str) -> list[list[str]]:
    """`distill corpus run/levels --json` -> [[corpus, run, --json], [corpus, levels, --json]] (placeholders kept)."""
    words = shlex.split(command.replace("|", " ").replace("(", " ").replace(")", " ").replace("[", " ").replace("]", " "))[1:]
    variants = [[]]
    for w in words:
        alts = w.split("/") if re.fullmatch(r"[a-z-]+(/[a-z-]+)+", w) else [w]
        variants = [v + [a] for v in variants for a in alts]
    return variants


def resolve(words: list[str]) -> tuple[click.Command | None, list[str]]:
    """The command the words name, and the options they pass to it."""
    from distill.cli import cli

    ctx = click.Context(cli)
    cmd: click.Command = cli
    rest = list(words)
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        if rest[0].isupper():  # `GROUP COMMAND --help`: a synopsis of every command
            return None, []
        sub = cmd.get_command(ctx, rest[0])
        if sub is None:
            raise AssertionError(f"no command {rest[0]!r} under {cmd.name!r}")
        cmd, rest = sub, rest[1:]
    return cmd, [w.split("=")[0] for w in rest if w.startswith("--")]


def option_names(cmd: click.Command) -> set[str]:
    names = {"--help"}
    for p in cmd.params:
        names |= {o for o in [*p.opts, *p.secondary_opts] if o.startswith("--")}
    return names


@pytest.mark.parametrize("command", inline_commands() + [c for _, block in fenced_blocks() for c in block])
def test_every_readme_command_names_real_options(command):
    for words in expand(command):
        cmd, options = resolve(words)
        if cmd is None:
            continue
        unknown = sorted(set(options) - option_names(cmd))
        assert not unknown, f"{command}: {cmd.name} has no {', '.join(unknown)}"


def test_the_blocks_not_run_here_are_named():
    headings = [h for h, block in fenced_blocks() if block]
    assert set(NOT_RUN) <= set(headings)


def test_the_problems_examples_run_offline(run_cli, workspace, tmp_path):
    """The Problems block, with its placeholders pointed at files written here in the same formats."""
    obryan = tmp_path / "obryan"
    obryan.mkdir()
    for f in samples_dir().glob("*.json"):
        (obryan / f.name.replace("2003", "2024")).write_text(f.read_text())
    math500 = tmp_path / "math500.jsonl"
    math500.write_text(json.dumps({"problem": "What is $1+1$?", "solution": "It is $\\boxed{2}$.", "answer": "2", "subject": "Algebra",
                                   "level": 1, "unique_id": "test/algebra/1.json"}) + "\n")
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"uid": "q1", "problem": "What is 2+2?", "solution_key": "4"}) + "\n")
    block, = [b for h, b in fenced_blocks() if h == "Problems"]
    subst = {"path/to/obryan/": str(obryan), "math500.jsonl": str(math500), "mine.jsonl": str(mine)}
    for line in block:
        words = shlex.split(line)[1:]
        run_cli(*[subst.get(w, w) for w in words])
    assert "obryan-2024-fs-03" in run_cli("problems", "show", "obryan-2024-fs-03").output


def test_the_readme_is_a_front_door():
    """Issue 44: the two commands within the first 30 lines, about 200 lines at most, and a link to every guide page."""
    head = FRONT.splitlines()[:30]
    assert any("make demo" in line for line in head) and any("make test" in line for line in head)
    assert len(FRONT.splitlines()) <= 210
    pages = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md") if p.name != "index.md")
    assert all(f"]({page})" in FRONT for page in pages), [p for p in pages if f"]({p})" not in FRONT]


@pytest.mark.slow
def test_the_guide_builds_strictly(tmp_path):
    """MkDocs (Material theme) with --strict: every link and anchor of the guide resolves."""
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                       capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "site" / "index.html").exists() and (tmp_path / "site" / "grading-and-evaluation" / "index.html").exists()
