"""Small I/O helpers shared by every stage: atomic writes and canonical hashes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import jsonlines

if TYPE_CHECKING:
    import diskcache


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


def atomic_write_text(path: Path | str, text: str, *, flush: bool = True) -> None:
    """Write through a temporary file in the same folder and rename: readers never see half a file."""
    with atomic_open(path, flush=flush) as fh:
        fh.write(text)


@contextmanager
def atomic_open(path: Path | str, *, flush: bool = True) -> Iterator[TextIO]:
    """A text file written through a temporary file in the same folder, renamed over `path` when the block
    ends normally and removed when it raises: for outputs written piece by piece. `flush=False` skips the
    fsync, for a caller that writes many files and then flushes them all at once (`os.sync`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            if flush:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a report should be readable like any other file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write(path: Path | str, fill: Any) -> Any:
    """`fill(fh)` writes a temporary file in the same folder, which is then renamed over `path`."""
    with atomic_open(path) as fh:
        return fill(fh)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: os.umask is process-wide, so not while threads write


def open_disk_store(path: Path | str) -> diskcache.Cache:
    """A diskcache.Cache that never evicts: each entry is a paid-for model call or a transcript, and
    diskcache's default (1 GB, least-recently-stored evicted) would drop them silently. With no
    eviction, a write also skips diskcache's size query."""
    import diskcache

    Path(path).mkdir(parents=True, exist_ok=True)
    # No memory map and a 4 MB page cache (diskcache's defaults: a 64 MB map and 32 MB): a command reading a
    # 100 MB store otherwise holds ~100 MB more while it streams, with no measured gain in speed (bench/scale.py).
    return diskcache.Cache(str(path), eviction_policy="none", cull_limit=0, disk=_fast_key_disk(), sqlite_mmap_size=0,
                           sqlite_cache_size=1024)


def store_keys(cache: Any) -> Iterator[Any]:
    """Every key of a diskcache.Cache, in one pass over its table (in no particular order). diskcache's
    `iterkeys` pages 100 keys at a time with `key = ? AND raw > ? OR key > ?`, which SQLite answers by
    scanning the whole key index each time: quadratic (5.6 s for 100k keys, here 0.2 s)."""
    decode = cache._disk.get
    for key, raw in cache._sql("SELECT key, raw FROM Cache"):
        yield decode(key, raw)


def store_get_many(cache: Any, keys: Sequence[Any]) -> list[Any]:
    """The values of `keys` (None where absent) in a query per 500 keys instead of one each (a get costs
    ~40 us, mostly per-query overhead). For stores opened by `open_disk_store`, whose entries never expire."""
    encoded = [cache._disk.put(k) for k in keys]
    found: dict[tuple[Any, bool], Any] = {}
    for start in range(0, len(encoded), 500):  # under SQLite's limit on bound parameters
        part = [db_key for db_key, _ in encoded[start:start + 500]]
        query = f"SELECT key, raw, mode, filename, value FROM Cache WHERE key IN ({','.join('?' * len(part))})"
        for db_key, raw, mode, filename, value in cache._sql(query, part).fetchall():
            found[(db_key, bool(raw))] = cache._disk.fetch(mode, filename, value, False)
    return [found.get((db_key, bool(raw))) for db_key, raw in encoded]


def _fast_key_disk() -> type:
    """diskcache's Disk, with the database key of a tuple key (the transcript store's `("transcript", id,
    sample)`) built ~8x faster: diskcache pickles such a key and runs `pickletools.optimize` on every
    get and set (most of the time a site rebuild or a status spends). A pickler in fast mode writes no
    memo, which is what `optimize` strips when no object repeats; so for a tuple of distinct str/int
    items the bytes are identical (a test compares them), and any other key goes diskcache's own way."""
    import io
    import pickle
    import sqlite3

    import diskcache

    class FastKeyDisk(diskcache.Disk):
        def put(self, key):  # type: ignore[override]
            if type(key) is tuple and all(type(x) in (str, int) for x in key) and len(set(key)) == len(key) \
                    and all(type(x) is str or -(2 ** 63) <= x < 2 ** 63 for x in key):
                buf = io.BytesIO()
                pickler = pickle.Pickler(buf, protocol=self.pickle_protocol)
                pickler.fast = True
                pickler.dump(key)
                return sqlite3.Binary(buf.getvalue()), False
            return super().put(key)

    return FastKeyDisk


def atomic_write_json(path: Path | str, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def atomic_write_jsonl(path: Path | str, rows: Iterable[Any]) -> int:
    """Rows written as they come (a generator of 100k rows never sits in memory), renamed into place at the end."""
    def fill(fh) -> int:
        n = 0
        with jsonlines.Writer(fh, dumps=_dumps, flush=False) as writer:
            for row in rows:
                writer.write(row)
                n += 1
        return n

    return _atomic_write(path, fill)


def atomic_write_lines(path: Path | str, lines: Iterable[str]) -> int:
    """Lines already serialised (each without its newline), written as they come and renamed into place."""
    def fill(fh) -> int:
        n = 0
        for line in lines:
            fh.write(line)
            fh.write("\n")
            n += 1
        return n

    return _atomic_write(path, fill)


class JsonlSpool:
    """Rows serialised into an unnamed temporary file as they come, with their places: what is written
    later, in any order (a shuffle), is the same bytes `atomic_write_jsonl` writes, and never all in memory."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile()
        self._places = array("q")  # offset, length, offset, length, ...
        self._end = 0

    def add(self, row: Any) -> None:
        data = _dumps(row).encode("utf-8")
        self._places.extend((self._end, len(data)))
        self._fh.write(data)
        self._end += len(data)

    def __len__(self) -> int:
        return len(self._places) // 2

    def lines(self, order: Iterable[int] | None = None) -> Iterator[str]:
        """The serialised rows, in `order` (row indexes) or as added."""
        self._fh.flush()
        fd = self._fh.fileno()
        for i in range(len(self)) if order is None else order:
            yield os.pread(fd, self._places[2 * i + 1], self._places[2 * i]).decode("utf-8")

    def rows(self, order: Iterable[int] | None = None) -> Iterator[Any]:
        return (json.loads(line) for line in self.lines(order))

    def close(self) -> None:
        self._fh.close()


def append_jsonl(path: Path | str, row: Any) -> None:
    """Append one line and fsync it: for logs that must survive a crash line by line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        jsonlines.Writer(fh, dumps=_dumps).write(row)
        fh.flush()
        os.fsync(fh.fileno())


LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _replace_surrogates(value: Any) -> Any:
    """Strings with unpaired UTF-16 surrogates (a JSON `\\ud800` escape alone), which no UTF-8 file or terminal
    can hold, with each one replaced by U+FFFD; paired escapes (an emoji) stay as the character they encode."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    return value


def lock_for(path: Path | str, timeout: float = -1):
    """The inter-process lock of a shared file (`<file>.lock` beside it, filelock): every read-modify-write of a
    file several commands may rewrite (the problem store, a study's state, a site's manifest) holds it from the
    read to the write. `timeout` -1 waits; 0 fails at once (filelock.Timeout)."""
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=timeout)


def read_text(path: Path | str, what: str = "file") -> str:
    """A text file the user gave (a config, a study file, a template, a record), or one DistillError naming it:
    missing, a folder, unreadable, or not UTF-8 (with the byte offset), never a traceback later."""
    from .errors import DistillError

    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DistillError(f"{what} not found", path=path) from None
    except IsADirectoryError:
        raise DistillError(f"is a folder, not a {what}", path=path) from None
    except UnicodeDecodeError as exc:
        raise DistillError(f"not UTF-8 text (byte {exc.start} cannot be decoded): not a {what}", path=path) from None
    except OSError as exc:
        raise DistillError(f"cannot read ({exc.strerror or exc})", path=path) from None


def read_jsonl(path: Path | str, what: str = "a JSON object", *, log: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file: the one reader of every JSONL file.

    Torn-line policy: a malformed line is a one-line DistillError naming the file and line, except
    in an append-only log we write ourselves (`log=True`), where a malformed *last* line with no
    newline after it is the trace of a crash mid-append and is dropped (the work it stood for is redone).
    """
    from .errors import DistillError

    path = Path(path)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise DistillError("no such file", path=path) from None
    except IsADirectoryError:
        raise DistillError("is a folder, not a JSONL file", path=path) from None
    at = {"line": 0, "last": b""}

    def feed() -> Iterator[bytes]:
        for n, line in enumerate(fh, 1):  # line by line: a file of 100k records is never in memory at once
            at["line"], at["last"] = n, line
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                raise DistillError("not UTF-8 text", path=path, where=f"line {n}") from None
            yield line

    with fh:
        reader = jsonlines.Reader(feed())
        while True:
            try:
                row = reader.read(allow_none=True, skip_empty=True)
            except EOFError:
                return
            except jsonlines.InvalidLineError as exc:
                if log and not at["last"].endswith(b"\n") and not fh.peek(1):
                    return  # a torn last line
                msg = getattr(exc.__cause__, "msg", None) or "not JSON"  # the JSONDecodeError jsonlines wraps
                raise DistillError(f"malformed JSON ({msg})", path=path, where=f"line {at['line']}") from None
            if not isinstance(row, dict):
                raise DistillError(f"expected {what}, got {type(row).__name__}", path=path, where=f"line {at['line']}")
            if b"\\u" in at["last"] and LONE_SURROGATE.search(at["last"].decode("utf-8")):
                row = _replace_surrogates(row)  # stated policy: an unpaired \ud800 escape becomes U+FFFD
            yield at["line"], row


def read_jsonl_records(path: Path | str, model: Any, what: str, redo: str, *, log: bool = False) -> Iterator[tuple[int, Any]]:
    """(line number, record) for each line of a JSONL file, read as `model` (torn lines as in
    `read_jsonl`); a line that is not one is one DistillError naming the file, the line, the first
    wrong key and what to do (`redo`)."""
    from pydantic import ValidationError

    from .errors import DistillError, validation_message

    for lineno, row in read_jsonl(path, what, log=log):
        try:
            yield lineno, model.model_validate(row)
        except ValidationError as exc:
            raise DistillError(f"not {what} of this version of distill ({validation_message(exc)}); {redo}", path=path,
                               where=f"line {lineno}") from None


def write_record(path: Path | str, record: Any) -> None:
    """A pydantic record as indented JSON, written atomically."""
    atomic_write_text(path, record.model_dump_json(indent=2) + "\n")


def read_record(path: Path | str, model: Any, what: str, redo: str) -> Any:
    """`path` read back as `model`; a missing, unreadable or other-version file is one DistillError that
    names the file, the first wrong key and what to do (`redo`)."""
    from pydantic import ValidationError

    from .errors import DistillError, validation_message

    path = Path(path)
    try:
        return model.model_validate_json(path.read_bytes())
    except (IsADirectoryError, UnicodeDecodeError):
        raise DistillError(f"not {what} (unreadable bytes); {redo}", path=path) from None
    except FileNotFoundError:
        raise DistillError(f"no {path.name}: not {what}", path=path.parent) from None
    except ValidationError as exc:
        raise DistillError(f"not {what} of this version of distill ({validation_message(exc)}); {redo}", path=path) from None
