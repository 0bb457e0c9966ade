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
@pytest.mark.slow
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
    # a comment or a docstring edit is not a change of behaviour (issue 37): the version stays
    text = (copy / "normalize.py").read_text()
    (copy / "normalize.py").write_text(text.replace('"""Normalisation of', '"""Reworded: normalisation of', 1) + "\n# a comment\n")
    assert rules_hash(copy) == grader_version()
    (copy / "normalize.py").write_text(text + "\nCHANGED_RULE = 1\n")
    assert rules_hash(copy) != grader_version()


PRODUCT = ("distill", "problems", "grading", "agents", "corpus", "finetune", "evaluation", "study", "demo", "prompts")
KERNEL = ("config.py", "errors.py", "io.py", "usage.py", "workspace.py")


def _product_files():
    for folder in PRODUCT:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", KERNEL)
def test_the_kernel_does_not_depend_on_click(module):
    """Only the CLI layer turns the kernel's errors into click's."""
    assert "click" not in _imports(ROOT / "distill" / module)


def test_one_product_module_builds_openai_clients():
    """Every role reaches its endpoint through agents/endpoint.py: one retry and failover policy."""
    builders = [str(p.relative_to(ROOT)) for p in _product_files() if "AsyncOpenAI(" in p.read_text(encoding="utf-8")]
    assert builders == ["agents/endpoint.py"]


def test_no_product_function_is_longer_than_80_lines():
    import ast

    long = []
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long


def test_product_code_sets_no_test_settings():
    """MLX_DISABLE_COMPILE belongs to the Makefile, CI and the tests, not to what a user runs."""
    setters = [str(p.relative_to(ROOT)) for p in _product_files() if 'environ.setdefault("MLX_DISABLE_COMPILE"' in p.read_text(encoding="utf-8")
               or 'environ["MLX_DISABLE_COMPILE"]' in p.read_text(encoding="utf-8")]
    assert setters == []


def test_study_runner_builds_no_clients_loops_or_graders():
    """The study is a sequence of the commands' own service calls."""
    text = (ROOT / "study" / "runner.py").read_text(encoding="utf-8")
    for built in ("asyncio.run", "Grader(", "build_client", "build_role_clients", "Backend(", "AsyncOpenAI"):
        assert built not in text, built


CYCLES = [sys.executable, str(ROOT / "tools" / "import_cycles.py")]


def test_no_file_level_import_cycle():
    r = subprocess.run([*CYCLES, "--root", str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0 and "0 import cycle(s)" in r.stdout, r.stdout + r.stderr


@pytest.mark.slow
def test_a_lazy_import_back_is_a_cycle(tmp_path):
    repo = _copy_repo(tmp_path / "repo")
    target = repo / "finetune" / "model.py"
    target.write_text(target.read_text() + "\n\ndef _back():\n    from .run import run_finetune  # hidden in a function\n")
    r = subprocess.run([*CYCLES, "--root", str(repo)], capture_output=True, text=True)
    assert r.returncode == 1 and "distill.finetune.model" in r.stdout and "distill.finetune.run" in r.stdout
