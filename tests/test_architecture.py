"""The layout's one-way imports (import-linter contracts), and the grader version that follows its code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, str(ROOT / "tools" / "lint_imports.py")]


def _copy_repo(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", ".git", "workspace", "__pycache__", "bench", "tests", "*.egg-info"))
    return dest


def test_contracts_hold_on_this_tree():
    r = subprocess.run([*LINT, "--root", str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize("folder, module, line", [
    ("grading", "extract.py", "import distill.evaluation.stats  # an upward import"),
    ("distill", "io.py", "from distill.problems import schema  # the kernel reaching into a stage"),
    ("corpus", "prompt.py", "from distill.study import runner"),
])
def test_an_upward_import_breaks_the_contracts(tmp_path, folder, module, line):
    repo = _copy_repo(tmp_path / "repo")
    target = repo / folder / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    r = subprocess.run([*LINT, "--root", str(repo)], capture_output=True, text=True)
    assert r.returncode != 0 and "BROKEN" in r.stdout


def test_grader_version_follows_the_rule_code(tmp_path):
    from distill.grading.version import RULE_MODULES, grader_version, rules_hash

    src = ROOT / "grading"
    copy = tmp_path / "grading"
    copy.mkdir()
    for name in RULE_MODULES:
        shutil.copy(src / name, copy / name)
    assert rules_hash(copy) == grader_version()
    (copy / "normalize.py").write_text((copy / "normalize.py").read_text() + "\n# a changed rule\n")
    assert rules_hash(copy) != grader_version()
