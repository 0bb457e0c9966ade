"""The grader's version: a hash of the code that decides verdicts (the rule modules and the versions of
math-verify, sympy and latex2sympy2 that they call), so that any change to the rules or an upgrade of
those libraries marks every result graded before as stale (no hand-bumped number to forget)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from distill.io import content_hash

RULE_MODULES = ("extract.py", "latex.py", "normalize.py", "equality.py", "grader.py", "solution_format.py")


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


def rules_hash(folder: Path) -> str:
    """Hash of the rule modules' source in `folder` and of the versions of the libraries they call."""
    return content_hash({"rules": {name: (folder / name).read_text(encoding="utf-8") for name in RULE_MODULES},
                         "libraries": dependency_versions()}, 16)


@lru_cache(maxsize=1)
def grader_version() -> str:
    return rules_hash(Path(__file__).parent)
