"""The real HTTP path: corpus runs against a loopback OpenAI-compatible server with faults."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from distill.corpus.transcripts import TranscriptStore
from distill.demo.loopback import LoopbackServer, Reply
from distill.demo.recorded_teacher import recorded_teacher, role_of, role_settings
from distill.demo.samples import sample_files
from distill.prompts import bundled_dir

SECRET = "sk-corpus-secret-9876543210"


class Faulty:
    """The recorded teacher, with scripted faults on the first calls for chosen problems."""

    def __init__(self, faults=None, delay_s=0.0):
        self.faults = list(faults or [])
        self.lock = threading.Lock()
        self.delay_s = delay_s

    def __call__(self, body):
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return fault
        reply = recorded_teacher(body)
        reply.delay_s = self.delay_s
        return reply


@pytest.fixture
def teacher_env(monkeypatch, run_cli):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))

    def start(responder):
        srv = LoopbackServer(responder).start()
        for role, values in role_settings(srv.base_url).items():
            if role != "judge":
                monkeypatch.setenv(f"DISTILL_{role.upper()}__BASE_URL", srv.base_url)
                monkeypatch.setenv(f"DISTILL_{role.upper()}__MODEL", values["model"])
                monkeypatch.setenv(f"DISTILL_{role.upper()}__MAX_RETRIES", "4")
        monkeypatch.setenv("DEEPSEEK_API_KEY", SECRET)
        return srv

    return start


def corpus_json(run_cli, *args, exit_code: int = 0):
    r = run_cli("corpus", "run", *args, "--json", ok=False)
    assert r.exit_code == exit_code, r.output
    return json.loads(r.stdout)


@pytest.mark.slow
def test_faults_are_retried_and_nothing_bad_enters_the_corpus(teacher_env, run_cli, workspace, monkeypatch):
    fast_backoff(monkeypatch)
    faults = [Reply(status=429), Reply(status=500), Reply(empty_body=True), Reply(status=503)]
    srv = teacher_env(Faulty(faults))
    try:
        s = corpus_json(run_cli, "--year", "2001", "--concurrency", "1")
    finally:
        srv.stop()
    assert s["problems"] == 8 and s["accepted"] == 8 and s["failed"] == 0 and s["retries"] == 4
    assert s["model_calls"] == srv.log.count  # every request is counted, faults included


@pytest.mark.slow
def test_permanent_failure_and_truncation_never_accepted(teacher_env, run_cli, workspace, monkeypatch):
    fast_backoff(monkeypatch)

    def responder(body):
        text = json.dumps(body["messages"])
        if "sum of the first 12 positive odd" in text:
            return Reply(status=500)  # never recovers
        if "5 green beads" in text and role_of(body) != "verifier":
            return Reply(content="The probability is \\boxed{\\frac{5}{12}", finish_reason="length")  # always cut off
        return recorded_teacher(body)

    srv = teacher_env(responder)
    try:
        s = corpus_json(run_cli, "--year", "2001", exit_code=1)  # some work failed
    finally:
        srv.stop()
    store = TranscriptStore(workspace / "transcripts")
    failed, truncated = store.get("sample-2001-fs-01"), store.get("sample-2001-fs-02")
    assert failed.status == "failed" and "500" in failed.error and s["failed"] == 1
    assert truncated.status == "rejected" and all(v.truncated for v in truncated.verdicts) and truncated.rejection.kind == "truncated"
    # the export holds neither
    run_cli("corpus", "export", "--out", str(workspace / "exp"), "--source", "sample")
    exported = (workspace / "exp" / "manifest.json").read_text()
    assert "sample-2001-fs-01" not in exported and "sample-2001-fs-02" not in exported


def fast_backoff(monkeypatch):
    for role in ("SOLVER", "VERIFIER"):
        monkeypatch.setenv(f"DISTILL_{role}__BACKOFF_S", "0.01")


@pytest.mark.slow
def test_rerun_makes_zero_calls_and_edited_template_reruns_only_its_part(teacher_env, run_cli, workspace, tmp_path):
    srv = teacher_env(recorded_teacher)
    try:
        first = corpus_json(run_cli, "--year", "2002")
        n = srv.log.count
        again = corpus_json(run_cli, "--year", "2002")
        assert again["model_calls"] == 0 and again["skipped"] == 8 and srv.log.count == n
        # edit the formatter template only: Solver calls come from the cache, formatter calls go out again
        prompts = tmp_path / "prompts"
        shutil.copytree(bundled_dir(), prompts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        f = prompts / "formatter.md"
        f.write_text(f.read_text().replace("Rewrite the solution", "Please rewrite the solution"))
        edited = corpus_json(run_cli, "--year", "2002", "--prompts", str(prompts))
    finally:
        srv.stop()
    # 2002 js-02 is the recorded teacher's stubborn problem: rejected every time, with no formatter call
    assert first["accepted"] == edited["accepted"] == 7 and first["rejected"] == edited["rejected"] == 1
    assert edited["skipped"] == 0 and edited["model_calls"] == 7 and edited["cached"] >= 10  # formatter calls only; the Solver's come from cache
    t = TranscriptStore(workspace / "transcripts").get("sample-2002-fs-01")
    assert t.templates["formatter"] != t.templates["solver_user"]


@pytest.mark.slow
def test_api_key_never_reaches_the_workspace(teacher_env, run_cli, workspace):
    srv = teacher_env(recorded_teacher)
    try:
        out = run_cli("corpus", "run", "--year", "2003").output
        run_cli("corpus", "levels", "--year", "2003")
        run_cli("transcripts", "export", "--format", "md", "--out", str(workspace / "t.md"))
    finally:
        srv.stop()
    assert srv.log.headers and all(h["authorization"] == f"Bearer {SECRET}" for h in srv.log.headers)
    assert SECRET not in out
    for path in workspace.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_finishes_each_problem_once(tmp_path, workspace):
    env = dict(os.environ, DISTILL_WORKSPACE=str(workspace), DEEPSEEK_API_KEY=SECRET, MLX_DISABLE_COMPILE="1")
    distill = [sys.executable, "-m", "distill.cli"]
    subprocess.run([*distill, "problems", "import", "--source", "sample", *map(str, sample_files())], env=env, check=True, capture_output=True)
    with LoopbackServer(Faulty(delay_s=0.15)) as srv:
        env.update(DISTILL_SOLVER__BASE_URL=srv.base_url, DISTILL_VERIFIER__BASE_URL=srv.base_url)
        proc = subprocess.Popen([*distill, "corpus", "run", "--years", "2001-2003", "--concurrency", "4", "--quiet"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        store = TranscriptStore(workspace / "transcripts")
        deadline = time.time() + 60
        while time.time() < deadline and sum(1 for _ in store.all()) < 5:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = {t.problem_id for t in store.all()}
        assert 5 <= len(done_before) < 24
        r = subprocess.run([*distill, "corpus", "run", "--years", "2001-2003", "--json"], env=env, capture_output=True, text=True)
    summary = json.loads(r.stdout)
    assert summary["skipped"] >= len(done_before) and summary["problems"] == 24
    transcripts = list(TranscriptStore(workspace / "transcripts").all())
    assert sorted(t.problem_id for t in transcripts) == sorted(set(t.problem_id for t in transcripts))
    assert len(transcripts) == 24 and all(t.status in ("accepted", "rejected") for t in transcripts)


@pytest.mark.shared_data
@pytest.mark.parametrize("shape, stream", [("reasoning_content", False), pytest.param("reasoning", True, marks=pytest.mark.slow),
                                           pytest.param("template", False, marks=pytest.mark.slow)])
def test_a_full_obryan_year_end_to_end(shared_data, run_cli, workspace, monkeypatch, tmp_path, shape, stream):
    """Every 2019 problem through the real HTTP path; the server's 'teacher' boxes the official key, its
    thinking sent in each way servers send it; every trace row carries it."""
    run_cli("problems", "import", str(shared_data / "obryan" / "2019.json"))
    keys = {}
    for section in json.loads((shared_data / "obryan" / "2019.json").read_text()).values():
        for q in section.values():
            keys[" ".join(q["question"].split())] = q["answer"]

    def responder(body):
        text = " ".join(json.dumps([m["content"] for m in body["messages"]], ensure_ascii=False).split())
        key = next((k for q, k in keys.items() if json.dumps(q, ensure_ascii=False)[1:-1] in text), None)
        if key is None:
            return Reply(content="no idea")
        if role_of(body) == "verifier":
            return Reply(content=f"Step 1: Work it out.\nFinal answer: \\boxed{{{key}}}")
        return Reply(content=f"Working... so the answer is \\boxed{{{key}}}.", reasoning=f"Thinking about {key} at length.")

    with LoopbackServer(responder, shape=shape) as srv:
        for role, values in role_settings(srv.base_url).items():
            monkeypatch.setenv(f"DISTILL_{role.upper()}__BASE_URL", srv.base_url)
            monkeypatch.setenv(f"DISTILL_{role.upper()}__MODEL", values["model"])
        monkeypatch.setenv("DISTILL_SOLVER__MODEL", "deepseek-reasoner")  # the name DeepSeek's R1 goes by
        monkeypatch.setenv("DISTILL_SOLVER__STREAM", str(stream).lower())
        monkeypatch.setenv("DEEPSEEK_API_KEY", SECRET)
        s = json.loads(run_cli("corpus", "run", "--year", "2019", "--json").output)
    assert s["problems"] == 26 and s["accepted"] == 26 and s["failed"] == 0  # 46 problems, 20 of them placeholders
    run_cli("corpus", "export", "--out", str(tmp_path / "trace"), "--level", "trace", "--valid-years", "2020", "--test-years", "2021")
    rows = [json.loads(x)["messages"][-1]["content"] for x in (tmp_path / "trace" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 26 and all(r.startswith("<think>\nThinking about ") and r.count("</think>") == 1 for r in rows)
