"""User-facing errors: one line, exit code 2, never a traceback."""

from __future__ import annotations

import click


class DistillError(click.ClickException):
    """A mistake in the user's input or setup, reported as one line."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None, where: str | None = None):
        parts = []
        if path is not None:
            parts.append(str(path))
        if where:
            parts.append(where)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
