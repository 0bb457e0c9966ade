"""Independent steps of a study side by side: the per-level fine-tunes and the evaluations run in
worker processes (on Linux MLX's CPU matmul uses one core, so two processes take about the time
of one), the light steps in the parent, each started as soon as the steps it reads are done.

What a step produces depends only on its inputs, never on what ran beside it, so `--jobs N` gives
the same exports, adapters and summaries as `--jobs 1`; the parent alone writes the state.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from distill.errors import DistillError, ExitError, Interrupted, WorkFailed

WORKER_STEPS = ("finetune", "evaluate")  # CPU-bound and independent of one another
log = logging.getLogger("distill.study")


def default_jobs() -> int:
    """The cores on a CPU backend; 1 on a GPU, where memory, not cores, is the limit."""
    try:
        import mlx.core as mx

        if mx.default_device() == mx.gpu:
            return 1
    except Exception:  # no MLX here: the steps that need it say so themselves
        pass
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@dataclass(frozen=True)
class Unit:
    step: str
    key: str
    fingerprint: str
    inputs: dict[str, Any]
    needs: tuple[str, ...] = ()


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[str, BaseException]] = field(default_factory=list)


def _worker_init(log_file: str) -> None:
    # the parent decides what Ctrl-C means: it forwards SIGINT to the workers it wants stopped
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker's stderr (a library's trace as Ctrl-C lands mid-call, MLX's warnings) goes to the log, not
    # the user's terminal: the parent reports each step's failure as one line
    os.makedirs(os.path.dirname(log_file), exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def run_in_worker(study_class: Any, cfg_json: str, settings: Any, root: str, unit: Unit) -> tuple[str, Any, list[str], float]:
    """One step in a worker process: ("ok", outputs, log lines, seconds) or ("error", (exit code, message), ...).
    `study_class` (the runner's Study, pickled by name) is passed in, so this module never imports the runner."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from pathlib import Path

    from distill.workspace import Workspace

    from .config import StudyConfig

    lines: list[str] = []
    t0 = time.perf_counter()
    study = study_class(StudyConfig.model_validate_json(cfg_json), settings, Workspace(Path(root)), log=lines.append)
    try:
        return "ok", study.run_unit(unit), lines, time.perf_counter() - t0
    except KeyboardInterrupt:
        return "error", (130, "interrupted"), lines, time.perf_counter() - t0
    except ExitError as exc:
        return "error", (exc.exit_code, exc.message), lines, time.perf_counter() - t0
    except Exception as exc:  # a bug, not a user mistake: the trace goes to the log, one line to the user
        detail = traceback.format_exc()
        return "error", (1, f"{type(exc).__name__}: {exc}".splitlines()[0][:300] + "\n" + detail), lines, time.perf_counter() - t0


def _error(key: str, code: int, message: str) -> ExitError:
    first = message.splitlines()[0]
    if code == 2:
        return DistillError(f"{key}: {first}")
    if code == 130:
        return Interrupted()
    if "\n" in message:
        log.error("%s failed in a worker:\n%s", key, message)
    return WorkFailed(f"{key}: {first}")


def run_parallel(units: list[Unit], jobs: int, *, run_here: Callable[[Unit], dict[str, Any]], record: Callable[[Unit, dict[str, Any]], None],
                 study_args: tuple[Any, str, Any, str], log_line: Callable[[str], None]) -> Outcome:
    """Run `units` (in plan order; `needs` names the keys each reads; a need outside `units` is
    already done) with up to `jobs` worker processes. A failure lets the running steps finish (and
    keeps them) but starts nothing new."""
    import multiprocessing

    outcome = Outcome()
    pending = list(units)
    planned = {u.key for u in units}
    done: set[str] = set()
    running: dict[Future, Unit] = {}
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),  # MLX and threads do not survive fork
                               initializer=_worker_init, initargs=(os.path.join(study_args[3], "logs", "workers.log"),))

    def ready(u: Unit) -> bool:
        return all(n in done or n not in planned for n in u.needs)

    def finished(u: Unit, outputs: dict[str, Any], seconds: float) -> None:
        record(u, outputs)
        done.add(u.key)
        outcome.ran.append(u.key)
        log_line(f"[green]done[/] {u.key} in {seconds:.1f}s")

    try:
        while pending or running:
            if not outcome.failed:
                for u in [u for u in pending if u.step in WORKER_STEPS and ready(u)][: jobs - len(running)]:
                    pending.remove(u)
                    running[pool.submit(run_in_worker, *study_args, u)] = u
                    log_line(f"[bold]run[/]  {u.key} [dim](in a worker; {len(running)} of {jobs} busy)[/]")
                light = next((u for u in pending if u.step not in WORKER_STEPS and ready(u)), None)
                if light is not None:  # a light step runs here, the workers meanwhile busy
                    pending.remove(light)
                    log_line(f"[bold]run[/]  {light.key}")
                    t0 = time.perf_counter()
                    try:
                        outputs = run_here(light)
                    except ExitError as exc:
                        outcome.failed.append((light.key, exc))
                        continue
                    finished(light, outputs, time.perf_counter() - t0)
                    continue
            if not running:
                if pending and not outcome.failed:
                    raise DistillError(f"steps {', '.join(u.key for u in pending)} wait on steps that are not planned")
                break
            for fut in wait(running, return_when=FIRST_COMPLETED).done:
                u = running.pop(fut)
                status, payload, lines, seconds = fut.result()
                for line in lines:
                    log_line(line)
                if status == "ok":
                    finished(u, payload, seconds)
                else:
                    outcome.failed.append((u.key, _error(u.key, *payload)))
    except BaseException:  # Ctrl-C, or a bug here: stop the workers where a rerun resumes them
        _interrupt_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return outcome


def _interrupt_workers(pool: ProcessPoolExecutor) -> None:
    """Forward Ctrl-C to the workers (each stops its step where a rerun resumes it)."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        try:
            if proc.pid and sys.platform != "win32":
                os.kill(proc.pid, signal.SIGINT)
        except (ProcessLookupError, OSError):
            pass
