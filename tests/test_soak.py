"""Issue 40: a soak test with faults. Four loopback endpoints serve one corpus run of several years at concurrency 32:
one answers 429 in bursts and recovers, one refuses connections for a while and comes back, one is slow. Every
sample completes, no transcript is lost or written twice, each recovered endpoint serves again after its fault, and
the run's summary names every endpoint with its calls served, failures and time open."""

from __future__ import annotations

import json
import threading
import time

import pytest

from distill.corpus.transcripts import TranscriptStore
from distill.demo.loopback import LoopbackServer, Reply
from distill.demo.recorded_teacher import RecordedTeacher, role_settings
from distill.demo.samples import sample_files


class Timed:
    """A responder that records when it answered, with a fault for a window of the run."""

    def __init__(self, teacher, fault=None, delay_s: float = 0.0):
        self.teacher, self.fault, self.delay_s = teacher, fault, delay_s
        self.t0 = time.monotonic()
        self.ok: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, body):
        now = time.monotonic() - self.t0
        if self.fault is not None and (reply := self.fault(now, len(self.ok))) is not None:
            return reply
        reply = self.teacher(body)
        if self.delay_s:
            reply.delay_s = self.delay_s
        with self.lock:
            self.ok.append(now)
        return reply


class Bursts:
    """429 in two bursts of 0.3 s: the first after the endpoint's 3rd answer, the second after its 7th; between and
    after them it answers. The ends of the bursts are recorded, to check it serves again after each."""

    def __init__(self):
        self.windows: list[tuple[float, float]] = []

    def __call__(self, now: float, served: int):
        if len(self.windows) < 2 and served >= (3, 7)[len(self.windows)] and (not self.windows or now >= self.windows[-1][1]):
            self.windows.append((now, now + 0.3))
        if any(a <= now < b for a, b in self.windows):
            return Reply(status=429)
        return None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_four_endpoints_with_faults_serve_a_whole_corpus(run_cli, monkeypatch, workspace):
    import distill.agents.endpoint as endpoint

    monkeypatch.setattr(endpoint, "COOL_DOWN_S", 0.25)  # a short first open period: the soak's faults last tenths of a second
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    teacher = RecordedTeacher()
    faults = Bursts()
    normal, flaky, slow = Timed(teacher, delay_s=0.15), Timed(teacher, faults, delay_s=0.15), Timed(teacher, delay_s=0.4)
    down_log = Timed(teacher, delay_s=0.15)
    servers = [LoopbackServer(normal).start(), LoopbackServer(flaky).start(), LoopbackServer(slow).start()]
    down = LoopbackServer(down_log)  # bound, then closed: its port refuses connections until it comes back
    port = down.port
    down.stop()
    urls = [s.base_url for s in servers] + [f"http://127.0.0.1:{port}/v1"]
    back_at: list[float] = []

    def come_back():
        time.sleep(0.8)
        back_at.append(time.monotonic() - down_log.t0)
        servers.append(LoopbackServer(down_log, port=port).start())

    threading.Thread(target=come_back, daemon=True).start()
    for role, values in role_settings(urls[0]).items():
        for k, v in values.items():
            monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        monkeypatch.setenv(f"DISTILL_{role.upper()}__EXTRA_URLS", json.dumps(urls[1:]))
        monkeypatch.setenv(f"DISTILL_{role.upper()}__MAX_RETRIES", "6")
        monkeypatch.setenv(f"DISTILL_{role.upper()}__BACKOFF_S", "0.1")
    try:
        r = run_cli("corpus", "run", "--years", "2001-2003", "--samples", "4", "--concurrency", "32", "--json", "--quiet")
        took = time.monotonic() - normal.t0
    finally:
        for s in servers:
            s.stop()
    summary = json.loads(r.stdout)
    assert summary["failed"] == 0 and summary["accepted"] + summary["rejected"] == summary["samples"] == 24 * 4
    ids = TranscriptStore(workspace / "transcripts").ids()
    assert len(ids) == len(set(ids)) == 96  # none lost, none written twice
    assert len(faults.windows) == 2 and all(any(t >= end for t in flaky.ok) for _, end in faults.windows)  # served again after each burst
    assert sum(1 for t in flaky.ok if t >= faults.windows[1][1]) > 0
    assert back_at and any(t > back_at[0] for t in down_log.ok)  # the endpoint that came back takes its share again
    assert set(summary["endpoints"]) == {"solver", "verifier"}
    report = {u: {k: sum(summary["endpoints"][role][u][k] for role in ("solver", "verifier")) for k in ("served", "failures", "open_s")}
              for u in urls}
    assert report[urls[1]]["failures"] > 0 and report[urls[3]]["failures"] > 0 and report[urls[0]]["failures"] == 0
    assert all(e["served"] > 0 for e in report.values())
    assert report[urls[3]]["open_s"] > 0  # the refusing endpoint's breaker opened, then closed again
    print(f"run took {took:.1f}s;", json.dumps(report, indent=1))
