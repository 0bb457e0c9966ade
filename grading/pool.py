"""Bounded-time grading from any thread or event loop, on several cores.

math-verify's own timeouts use SIGALRM, which works only on a main thread and answers False
on timeout. Here every verdict runs in a worker process (pebble), where the parse and verify
timeouts are off and the pool enforces the bound: a verdict over it comes back as None
("could not decide", method `timeout`) and its worker is replaced.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from .extract import extract_answer
from .grader import Verdict, cheap_verdict, grade, grade_answer, quick_verdict

if TYPE_CHECKING:
    from pebble import ProcessPool

DEFAULT_TIMEOUT_S = 5.0
WORKER_MEMORY_BYTES = 4 * 1024**3  # a runaway power tower fails fast instead of swapping


def _worker_init() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on every platform
        pass
    import math_verify  # noqa: F401  # warm the import once per worker

    grade("1", r"\boxed{1}")


def _grade_task(key: str, response: str, extracted: bool) -> dict:
    v = grade_answer(key, response) if extracted else grade(key, response)
    return v.model_dump()


def _grade_batch(items: list[tuple[str, str]], extracted: bool) -> list[dict]:
    return [_grade_task(k, r, extracted) for k, r in items]


BATCH = 4  # verdicts per worker task in grade_many: fewer round trips; a batch over its bound is redone one by one


class Grader:
    """Grades under a per-verdict time bound in `workers` worker processes (default: 2, or 1 on one core)."""

    def __init__(self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.workers = workers or min(2, os.cpu_count() or 1) or 1
        self.timeout_s = timeout_s
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                # imported here: a run whose answers all equal their keys never starts workers.
                # The platform's default start method: fork on Linux (cheap), spawn on macOS.
                from pebble import ProcessPool

                self._pool = ProcessPool(max_workers=self.workers, initializer=_worker_init)
            return self._pool

    def submit(self, key: str, response: str, *, extracted: bool = False) -> Future:
        return self._get_pool().schedule(_grade_task, args=(key, response or "", extracted), timeout=self.timeout_s)

    def _result(self, fut: Future, response: str) -> Verdict:
        try:
            return Verdict.model_validate(fut.result())
        except FutureTimeout:
            ext = extract_answer(response)
            return Verdict(
                correct=None, method="timeout", reason=f"no verdict within {self.timeout_s:g}s", extracted=ext.text, source=ext.source
            )
        except Exception as exc:  # a crashed worker (e.g. out of memory) is an undecided verdict
            return Verdict(correct=None, method="error", reason=f"{type(exc).__name__}: {exc}"[:200])

    def grade(self, key: str, response: str, *, extracted: bool = False) -> Verdict:
        return self._result(self.submit(key, response, extracted=extracted), response)

    def grade_many(self, pairs: Iterable[tuple[str, str]], *, extracted: bool = False) -> list[Verdict]:
        """Many verdicts, BATCH to a worker task; a batch that runs over BATCH x the bound (or fails) is
        graded again item by item, so only a pathological answer itself comes back undecided."""
        items: Sequence[tuple[str, str]] = [(k, r or "") for k, r in pairs]
        cheap = [cheap_verdict(k, r) if extracted else quick_verdict(k, r) for k, r in items]
        todo = [i for i, v in enumerate(cheap) if v is None]
        if todo:
            for i, v in zip(todo, self._grade_in_workers([items[i] for i in todo], extracted)):
                cheap[i] = v
        return cheap  # type: ignore[return-value]

    def _grade_in_workers(self, items: Sequence[tuple[str, str]], extracted: bool) -> list[Verdict]:
        pool = self._get_pool()
        chunks = [list(items[i:i + BATCH]) for i in range(0, len(items), BATCH)]
        futures = [pool.schedule(_grade_batch, args=(c, extracted), timeout=self.timeout_s * len(c)) for c in chunks]
        out: list[Verdict] = []
        for chunk, fut in zip(chunks, futures):
            try:
                out.extend(Verdict.model_validate(d) for d in fut.result())
            except Exception:  # a slow or crashed batch: each item alone, each under its own bound
                singles = [self.submit(k, r, extracted=extracted) for k, r in chunk]
                out.extend(self._result(f, r) for f, (_, r) in zip(singles, chunk))
        return out

    async def agrade_many(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        """grade_many from an event loop: the answers equal to their key at once, the rest batched in a thread."""
        return await asyncio.to_thread(self.grade_many, pairs)

    async def agrade(self, key: str, response: str, *, extracted: bool = False) -> Verdict:
        quick = None if extracted else quick_verdict(key, response)
        if quick is not None:  # the answer is the key, character for character: no worker round trip
            return quick
        fut = self.submit(key, response, extracted=extracted)
        try:
            await asyncio.wrap_future(fut)  # type: ignore[arg-type]
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                fut.cancel()
                raise
        return self._result(fut, response)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool.join()
                self._pool = None

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
