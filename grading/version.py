"""The grader's version: its behaviour, not its bytes. A hash of the normalised syntax trees of the modules that
decide verdicts (docstrings and comments dropped, no line numbers) and of the versions of math-verify, sympy and
latex2sympy2 they call: a change to a rule or an upgrade of those libraries marks every result graded before as
stale, and a comment or docstring edit changes nothing (no hand-bumped number to forget)."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from distill.io import content_hash

RULE_MODULES = ("extract.py", "latex.py", "normalize.py", "equality.py", "candidates.py", "grader.py", "solution_format.py")


DEPENDENCIES = ("math-verify", "sympy", "latex2sympy2_extended")  # their parsing decides verdicts too


def dependency_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def behaviour(source: str) -> str:
    """A module's syntax tree without docstrings or positions: what it does, not how it is commented."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def rules_hash(folder: Path) -> str:
    """Hash of the rule modules' behaviour in `folder` and of the versions of the libraries they call."""
    return content_hash({"rules": {name: behaviour((folder / name).read_text(encoding="utf-8")) for name in RULE_MODULES},
                         "libraries": dependency_versions()}, 16)


@lru_cache(maxsize=1)
def grader_version() -> str:
    return rules_hash(Path(__file__).parent)
