"""Shared by the benchmark scripts: where results go and how they are written."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(out: Path, result: dict) -> None:
    """Write the JSON result next to the printed table, and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


def byte_compile() -> None:
    """Compile the package's sources once, as pip leaves an installed wheel, so a timed `distill` process
    does not recompile them on every start (it would where PYTHONDONTWRITEBYTECODE is set)."""
    import compileall
    import re

    compileall.compile_dir(str(RESULTS.parents[1]), quiet=2, rx=re.compile(r"/\.|/workspace/"))


def _serve(factory, args: tuple, port_queue, nodelay: bool) -> None:
    import threading

    from distill.demo.loopback import LoopbackServer

    srv = LoopbackServer(factory(*args), nodelay=nodelay).start()
    port_queue.put(srv.port)
    threading.Event().wait()


def _boxed_one(delay: float):
    from distill.demo.loopback import Reply

    return lambda body: Reply(content="\\boxed{1}", delay_s=delay)


class ServerProcess:
    """An OpenAI-compatible loopback server in its own process, as a real endpoint would be (it must not
    share our GIL); `factory(*args)` makes its responder; `nodelay` as in LoopbackServer."""

    def __init__(self, factory, *args, nodelay: bool = True):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        self.proc = ctx.Process(target=_serve, args=(factory, args, q, nodelay), daemon=True)
        self.proc.start()
        self.base_url = f"http://127.0.0.1:{q.get(timeout=30)}/v1"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.join()


def DelayServer(delay: float) -> ServerProcess:  # noqa: N802 - reads as the class it returns
    """A server answering every call with \\boxed{1} after `delay` seconds."""
    return ServerProcess(_boxed_one, delay)
