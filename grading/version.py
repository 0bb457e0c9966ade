"""The grader's version: a hash of the code that decides verdicts, so that any change to the
rules marks every result graded by the old rules as stale (no hand-bumped number to forget)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from distill.io import content_hash

RULE_MODULES = ("extract.py", "latex.py", "normalize.py", "equality.py", "grader.py", "solution_format.py")


def rules_hash(folder: Path) -> str:
    """Hash of the rule modules' source in `folder`."""
    return content_hash({name: (folder / name).read_text(encoding="utf-8") for name in RULE_MODULES}, 16)


@lru_cache(maxsize=1)
def grader_version() -> str:
    return rules_hash(Path(__file__).parent)
