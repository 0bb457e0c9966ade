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


def validation_message(exc: Exception, *, prefix: str = "") -> str:
    """A pydantic ValidationError as one line: `key.path: what is wrong` for its first error."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    err = errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    where = ".".join(x for x in (prefix, loc) if x)
    msg = err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        msg = "unknown setting"
    return f"{where}: {msg}" if where else msg
