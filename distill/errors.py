"""Errors the user sees: one line, an exit code, never a traceback.

The kernel raises these plain exceptions; only the CLI layer (`distill.cli`) turns them into
click's, so the stages' pure cores can be called from Python (the study, tests) without click.
"""

from __future__ import annotations


class ExitError(Exception):
    """A one-line failure with the process exit code it stands for."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message


class DistillError(ExitError):
    """A mistake in the user's input or setup, reported as one line: exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None, where: str | None = None):
        prefix = ": ".join(str(p) for p in (path, where) if p is not None and p != "")
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


class EndpointError(Exception):
    """A model endpoint failed, classified. `fatal` failures (a refused key, an unknown model, a bad
    URL, an endpoint that stays unreachable) stop the whole run at the first occurrence: every other
    call would fail the same way. The rest fail only the work item that made the call."""

    def __init__(self, kind: str, where: str = "", detail: str = "", *, fatal: bool = False, config: bool = False):
        # (defaults: libraries may rebuild an exception from its message alone; the client keeps the original)
        super().__init__(f"{where}: {detail}")
        self.kind, self.where, self.detail, self.fatal, self.config = kind, where, detail, fatal, config

    def line(self) -> str:
        return f"{self.where}: {self.detail}"


class WorkFailed(ExitError):
    """Work was attempted and some of it failed (the summary above says what): exit code 1."""

    exit_code = 1


class Interrupted(ExitError):
    """Ctrl-C: finished work is saved; exit code 130."""

    exit_code = 130

    def __init__(self, message: str = "interrupted: finished work is saved; run the same command again to resume"):
        super().__init__(message)


def endpoint_exit(exc: EndpointError, log_path: object | None = None, suffix: str = "") -> ExitError:
    """A classified endpoint failure as the CLI reports it: one line, exit 2 for a configuration
    problem (key, model, URL), 1 otherwise; details in the log file."""
    line = exc.line() + suffix + (f" (details: {log_path})" if log_path else "")
    return DistillError(line) if exc.config else WorkFailed(line)


MACHINE_REFUSALS = {  # errno name -> what the machine said and what to do, in one line
    "ENOTDIR": "a part of the path is a file, not a folder: choose another path",
    "EEXIST": "already exists as something else: choose another path or remove it",
    "EISDIR": "is a folder where a file is needed: choose another path",
    "EACCES": "permission denied: check the folder's permissions, or choose another path or workspace",
    "EPERM": "operation not permitted: check the folder's permissions, or choose another path or workspace",
    "EROFS": "the file system is read-only: choose a writable path or workspace",
    "ENOSPC": "no space left on the device: free some space and run the same command again",
    "EDQUOT": "the disk quota is used up: free some space and run the same command again",
    "EFBIG": "file too large for this machine's limit (ulimit -f?): raise the limit and run the same command again",
}


def machine_error(exc: BaseException) -> ExitError | None:
    """The operating system's or sqlite's refusal as one line naming the path and what to do (exit 1: what finished
    is saved, since writes are atomic); None for an error that is not the machine saying no."""
    import errno
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            what = "the workspace's store is read-only: check its permissions, or choose another workspace"
        elif "disk I/O" in text or "full" in text:
            what = "the workspace's store could not be written (disk full or failing): free space and run again"
        elif "unable to open" in text:
            what = "the workspace's store cannot be opened: check the folder exists and is writable"
        else:
            return None
        return WorkFailed(f"{what} (sqlite: {text}); finished work is saved")
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, "")
        if name not in MACHINE_REFUSALS:
            return None
        path = exc.filename or ""
        return WorkFailed(f"{path + ': ' if path else ''}{MACHINE_REFUSALS[name]}; finished work is saved")
    return None
