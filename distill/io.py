"""Small I/O helpers shared by every stage: atomic writes and canonical hashes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the input of every content hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of `obj` (or of the bytes/str itself), hex, truncated."""
    if isinstance(obj, bytes):
        data = obj
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
    else:
        data = canonical_json(obj).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:length]


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write through a temporary file in the same folder and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path | str, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def atomic_write_jsonl(path: Path | str, rows: Iterable[Any]) -> int:
    lines = [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def append_jsonl(path: Path | str, row: Any) -> None:
    """Append one line and flush it: used for logs that must survive a crash line by line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def iter_jsonl_objects(path: Path | str, what: str = "a JSON object") -> Iterable[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a one-line DistillError naming file and line otherwise."""
    from .errors import DistillError

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DistillError("no such file", path=path) from None
    except UnicodeDecodeError:
        raise DistillError("not UTF-8 text", path=path) from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DistillError(f"malformed JSON ({exc.msg})", path=path, where=f"line {lineno}") from None
        if not isinstance(row, dict):
            raise DistillError(f"expected {what}, got {type(row).__name__}", path=path, where=f"line {lineno}")
        yield lineno, row
