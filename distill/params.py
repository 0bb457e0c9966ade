"""Click types the stages share, so that a bad value is refused before any work, as one line naming the option
(exit 2): output paths the machine can write, length levels, and integer ranges that fit the machine."""

from __future__ import annotations

import os
from pathlib import Path

import click

LEVELS = ("R1", "R2", "R3", "R4", "R5", "R6")
MAX_INT = 2**62  # a count, an offset or a size past this is a typo, not a request (and overflows C integers)


def first_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable_problem(path: Path, *, dir_wanted: bool) -> str | None:
    """Why `path` cannot be written (as a file, or a folder with `dir_wanted`), or None when it can. Checked
    before any work: a path under a plain file, an existing path of the other kind, a folder the user may not write."""
    p = path.absolute()
    if p.exists():
        if dir_wanted and not p.is_dir():
            return f"{path} is a file, not a folder"
        if not dir_wanted and p.is_dir():
            return f"{path} is a folder, not a file"
        target = p if p.is_dir() else p.parent
    else:
        base = first_existing(p)
        if not base.is_dir():
            return f"{base} is a file, so nothing can be written under it"
        target = base
    if not os.access(target, os.W_OK | os.X_OK):
        return f"{target} is not writable (permission denied)"
    return None


class OutPath(click.Path):
    """An output path (`--out`): refused at once (exit 2) when it lies under a plain file, is of the other kind,
    or its folder is not writable."""

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True):
        super().__init__(file_okay=file_okay, dir_okay=dir_okay, path_type=Path)

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        why = writable_problem(Path(path), dir_wanted=not self.file_okay)
        if why:
            self.fail(why, param, ctx)
        return path


class LevelType(click.ParamType):
    """A response-length level: R1..R6 (and `trace` where `extra` allows it)."""

    name = "level"

    def __init__(self, extra: tuple[str, ...] = ()):
        self.choices = LEVELS + extra

    def convert(self, value, param, ctx):
        v = str(value).strip()
        up = v.upper() if v.upper() in LEVELS else v
        if up not in self.choices:
            self.fail(f"unknown level {v!r}; levels are {', '.join(self.choices)}", param, ctx)
        return up


def Count(lo: int = 0, hi: int = MAX_INT) -> click.IntRange:  # noqa: N802 (a type, as click's are)
    """An integer count or offset within [lo, hi]: `--batch-size 0` or an offset of 20 digits is refused at once."""
    return click.IntRange(min=lo, max=hi)
