"""A static, self-contained site of the transcripts: an index (filter, sort, search) and a page per
problem (their HTML: `site_pages`). Here: which pages to build (a hash of what each is built from,
kept in pages.jsonl), the worker processes that build them, and the files. The only script is the
index's local filtering; the site opens from the file system."""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict

from distill.io import atomic_open, atomic_write_text, content_hash, lock_for
from distill.problems.schema import Problem
from distill.problems.store import StoredProblems, sorted_by_id

from distill.corpus.levels import LEVELS
from distill.corpus.samples import problem_samples
from .site_pages import ROWS, PageJob, index_page, index_row, page_file, problem_page, row_json
from distill.corpus.transcripts import TranscriptStore

MANIFEST = "pages.jsonl"  # per page file: the hash of what it was built from, and its index row: an unchanged page is not rebuilt
IN_FLIGHT = 4  # chunks queued per worker: enough to keep every core busy, few enough to keep memory flat
CHUNK = 64  # problems per worker task, at most
TASKS_PER_WORKER = 16  # at least, when the site is small: the last chunks then leave a core idle for less time

class PageEntry(BaseModel):
    """One line of pages.jsonl: a problem's page file, the hash of what it was built from (see `_digest`), and its
    index row as the JSON text index.html holds (an unchanged page's row is copied, not parsed and written again)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    file: str
    digest: str
    row: str


class SiteManifest(BaseModel):
    """The first line of pages.jsonl; a PageEntry per page follows, in problem-id order. A rebuild renders
    only the pages whose inputs changed. A missing, torn or other-version file rebuilds every page."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[3] = 3
    kind: Literal["distill site pages"] = "distill site pages"


class _OldPages:
    """The previous build's pages.jsonl, read in step with this build (both go in problem-id order): an
    entry is held only while its page is in flight, so memory does not grow with the site. Entries of
    problems outside this build go to `others`, verbatim; a line out of order or unreadable ends the reading
    (the pages after it are rebuilt: the manifest is a cache)."""

    def __init__(self, path: Path, others: TextIO):
        self.others = others
        self._fh: Any = None
        self._next: tuple[PageEntry, str] | None = None
        try:
            self._fh = path.open(encoding="utf-8")
            SiteManifest.model_validate_json(self._fh.readline())
        except (OSError, ValueError):
            self.close()
            return
        self._advance()

    def _advance(self) -> None:
        last = self._next[0].id if self._next else ""
        self._next = None
        line = self._fh.readline() if self._fh else ""
        try:
            entry = PageEntry.model_validate_json(line)
        except ValueError:
            self.close()
            return
        if entry.id > last:
            self._next = (entry, line if line.endswith("\n") else line + "\n")

    def take(self, pid: str) -> tuple[PageEntry, str] | None:
        """`pid`'s entry and line from the last build, after passing on those of the ids before it."""
        while self._next and self._next[0].id < pid:
            self._pass_on()
        if self._next and self._next[0].id == pid:
            own = self._next
            self._advance()
            return own
        return None

    def rest(self) -> None:
        while self._next:
            self._pass_on()

    def _pass_on(self) -> None:
        entry, line = self._next  # type: ignore[misc]
        self.others.write(f"{entry.id}\t{line}")
        self._advance()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _site_version() -> str:
    """A page's hash includes the code and library that render it: a new renderer rebuilds every page."""
    from importlib.metadata import version

    here = Path(__file__).parent
    return content_hash({"code": [(here / f).read_text(encoding="utf-8") for f in ("site.py", "site_pages.py", "mathhtml.py")],
                         "latex2mathml": version("latex2mathml"), "assets": [(here / "site_assets" / f).read_text(encoding="utf-8")
                                                                              for f in ("style.css", "index.js")]})


def _digest(p: Problem, raw: Any, site_version: str) -> str | None:
    """The hash of what a problem's page is built from: the problem and `raw`, its records' revision
    (`TranscriptStore.revision`: nothing validated); None without a transcript."""
    if raw is None:
        return None
    h = hashlib.blake2b(site_version.encode("utf-8"), digest_size=12)
    h.update(p.model_dump_json().encode("utf-8"))
    h.update((raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)).encode("utf-8"))
    return h.hexdigest()


def _job(p: Problem, store: TranscriptStore) -> PageJob | None:
    t = store.get(p.id)
    if t is None:
        return None
    levels = {lv: lt for lv in LEVELS[1:] if (lt := store.get_level(p.id, lv)) is not None}
    return PageJob(p, t, levels, problem_samples(store, p.id), page_file(p.id))


_STORES: dict[str, TranscriptStore] = {}


class _ProblemId(BaseModel):
    id: str


def _ids_and_problems(problems: Sequence[Problem]) -> Iterator[tuple[str, Problem | bytes]]:
    """Each problem's id, and the problem, in id order; a stored problem as its JSON line: the worker that
    needs it parses it (the parent reads only the id, and a line pickles ~15x faster than a Problem)."""
    problems = sorted_by_id(problems)
    if isinstance(problems, StoredProblems):
        for raw in problems.raw():
            yield _ProblemId.model_validate_json(raw).id, raw
    else:
        for p in problems:
            yield p.id, p


Chunk = list[tuple[int, Problem | bytes, str | None]]  # (position, problem, the last build's hash of its page)


def _build_pages(root: str, chunk: Chunk, pages: Path, version: str, store: TranscriptStore | None = None) -> list[tuple[int, str, PageEntry | None]]:
    """For a chunk of problems (in a worker, with its own connection to the store): hash what each page is
    built from; build, render and write the pages whose hash differs from the last build's (or whose file
    is gone). Returns (position, file, new manifest entry or None when unchanged), in problem order."""
    if store is None:
        if root not in _STORES:  # one connection per worker, opened once
            _STORES[root] = TranscriptStore(Path(root))
        store = _STORES[root]
    out = []
    problems = [p if isinstance(p, Problem) else Problem.model_validate_json(p) for _, p, _ in chunk]
    revisions = store.revisions([p.id for p in problems], LEVELS[1:])
    for (i, _, kept), p, revision in zip(chunk, problems, revisions):
        digest = _digest(p, revision, version)
        if digest is None:
            continue
        file = page_file(p.id)
        if kept == digest and os.path.exists(os.path.join(pages, file)):
            out.append((i, file, None))  # unchanged: neither the page nor its index row is built (nor sent back)
            continue
        job = _job(p, store)
        if job is None:
            continue
        # no fsync per page (it was most of a small page's cost, and serialises the workers on the journal): the
        # build flushes every page once before the manifest that vouches for them is written
        atomic_write_text(pages / file, problem_page(job.problem, job.transcript, job.levels, job.samples), flush=False)
        out.append((i, file, PageEntry(id=p.id, file=file, digest=digest, row=row_json(index_row(job)))))
    return out


def build_site(problems: Sequence[Problem], store: TranscriptStore, out: Path, jobs: int | None = None) -> dict[str, Any]:
    """index.html + p/<problem>.html + style.css + index.js under `out`; returns counts. Pages are hashed,
    read and rendered in `jobs` worker processes (default: every core); a page whose inputs have not
    changed is not rebuilt. The index and pages.jsonl are written as the pages come back, in problem
    order, so memory does not grow with the number of pages."""
    (out / "p").mkdir(parents=True, exist_ok=True)
    with lock_for(out / MANIFEST):  # two builds into one folder take turns: the manifest vouches for the pages of one
        return _build_site(problems, store, out, jobs)


def _build_site(problems: Sequence[Problem], store: TranscriptStore, out: Path, jobs: int | None) -> dict[str, Any]:
    (out / "p").mkdir(parents=True, exist_ok=True)
    assets = resources.files("distill.viewer") / "site_assets"
    for name in ("style.css", "index.js"):
        atomic_write_text(out / name, (assets / name).read_text(encoding="utf-8"))
    jobs = max(1, jobs or os.cpu_count() or 1)
    size = max(1, min(CHUNK, len(problems) // (jobs * TASKS_PER_WORKER)))
    counts = {"problems": 0, "rendered": 0}
    # the workers start first, so they inherit none of what the parent reads next
    with _Renderer(jobs, store, out / "p", _site_version()) as renderer, \
            tempfile.TemporaryFile("w+", encoding="utf-8") as current, tempfile.TemporaryFile("w+", encoding="utf-8") as others:
        old = _OldPages(out / MANIFEST, others)
        inflight: deque[tuple[int, tuple[PageEntry, str] | None]] = deque()  # submitted problems: position, last build's entry
        head, tail = index_page().split(ROWS)
        try:
            with atomic_open(out / "index.html") as index:
                index.write(head)

                def done(results: list[tuple[int, str, PageEntry | None]]) -> None:
                    rows, lines = [], []  # a chunk's rows and manifest lines, written at once
                    for i, _, entry in results:
                        while inflight[0][0] != i:  # a problem without a transcript has no page
                            inflight.popleft()
                        kept = inflight.popleft()[1]
                        counts["rendered"] += entry is not None
                        entry, line = (entry, entry.model_dump_json() + "\n") if entry else kept  # type: ignore[misc]
                        rows.append((", " if counts["problems"] else "") + entry.row)  # the rows as one JSON array, a row at a time
                        lines.append(f"{entry.id}\t{line}")
                        counts["problems"] += 1
                    index.write("".join(rows))
                    current.write("".join(lines))

                chunk: Chunk = []
                for i, (pid, p) in enumerate(_ids_and_problems(problems)):
                    kept = old.take(pid)
                    inflight.append((i, kept))
                    chunk.append((i, p, kept[0].digest if kept else None))
                    if len(chunk) == size:
                        renderer.submit(chunk, done)
                        chunk = []
                renderer.submit(chunk, done)
                renderer.finish(done)
                old.rest()  # pages of problems outside this selection stay known for the next build
                index.write(tail)
        finally:
            old.close()
        if counts["rendered"] and hasattr(os, "sync"):  # (POSIX; elsewhere the manifest is only as durable as the pages)
            os.sync()  # the pages on disk before the manifest says they are built
        with atomic_open(out / MANIFEST) as manifest:
            manifest.write(SiteManifest().model_dump_json() + "\n")
            # both in id order; "id\t" sorts like the id alone
            manifest.writelines(line.split("\t", 1)[1] for line in heapq.merge(_lines(current), _lines(others)))
    return {**counts, "unchanged": counts["problems"] - counts["rendered"], "jobs": jobs, "out": str(out)}


def _lines(fh: TextIO) -> Iterator[str]:
    fh.seek(0)
    yield from fh


class _Renderer:
    """Builds chunks of pages in this process (one job) or in worker processes, with a bounded queue;
    `done` gets each chunk's results in the order the chunks were submitted."""

    def __init__(self, jobs: int, store: TranscriptStore, pages: Path, version: str):
        self.jobs, self.store, self.pages, self.version = jobs, store, pages, version
        self.pool: Any = None
        self.pending: list[Any] = []

    def __enter__(self) -> "_Renderer":
        if self.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=self.jobs)
            self.pool.submit(int).result()  # start the workers now (they are forked at the first task)
        return self

    def submit(self, chunk: Chunk, done: Any) -> None:
        if not chunk:
            return
        if self.pool is None:
            done(_build_pages(str(self.store.root), chunk, self.pages, self.version, self.store))
            return
        self.pending.append(self.pool.submit(_build_pages, str(self.store.root), chunk, self.pages, self.version))
        while len(self.pending) >= IN_FLIGHT * self.jobs:
            done(self.pending.pop(0).result())  # a page that fails to render is an error, as in one process

    def finish(self, done: Any) -> None:
        while self.pending:
            done(self.pending.pop(0).result())

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=exc[0] is not None)
