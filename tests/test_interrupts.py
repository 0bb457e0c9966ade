"""Ctrl-C in every long command: exit 130, one line, no traceback, and the rerun resumes.

Each command runs as a real process (the console script), gets SIGINT while it works, and is
run again to the end; the second run must not redo what the first finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from distill.demo.loopback import LoopbackServer
from distill.demo.samples import sample_files

from .procs import assert_clean_interrupt, env_for, interrupt, run, slow_teacher

@pytest.fixture
def ws(tmp_path) -> Path:
    ws = tmp_path / "ws"
    run(["problems", "import", "--source", "sample", *map(str, sample_files())], env_for(ws))
    return ws


@pytest.mark.slow
def test_corpus_run_and_levels(ws):
    with LoopbackServer(slow_teacher) as srv:
        env = env_for(ws, srv.base_url)
        transcripts = ws / "transcripts" / "cache.db"
        assert_clean_interrupt(interrupt(["corpus", "run", "--years", "2001-2002", "--concurrency", "2"], env, after=4,
                                         when=lambda: transcripts.exists() and srv.log.count >= 6))
        again = json.loads(run(["corpus", "run", "--years", "2001-2002", "--json", "--quiet"], env).stdout)
        assert again["skipped"] > 0 and again["accepted"] + again["rejected"] == 16  # finished problems were not asked again
        start = srv.log.count
        assert_clean_interrupt(interrupt(["corpus", "levels", "--years", "2001-2002", "--levels", "R2-R6", "--concurrency", "2"], env, after=4,
                                         when=lambda: srv.log.count >= start + 6))
        n = srv.log.count
        run(["corpus", "levels", "--years", "2001-2002", "--levels", "R2-R6", "--quiet"], env)
        asked = srv.log.count - n
    assert asked < 5 * 15  # the texts finished before Ctrl-C were kept


@pytest.mark.slow
def test_eval_run(ws, tiny_model):
    env = env_for(ws)
    args = ["eval", "run", "--model", str(tiny_model), "--problems", "sample", "--runs", "8", "--no-judge", "--max-tokens", "24",
            "--out", str(ws / "ev")]
    responses = ws / "ev" / "responses.jsonl"
    assert_clean_interrupt(interrupt(args, env, after=12, when=lambda: responses.exists() and len(responses.read_text().splitlines()) >= 48))
    kept = len(responses.read_text().splitlines())
    assert kept > 0
    s = json.loads(run([*args[:6], "--runs", "8", "--no-judge", "--max-tokens", "24", "--out", str(ws / "ev"), "--json", "--quiet"], env).stdout)
    assert s["this_session"]["generated"] == 24 * 8 - kept  # only what was missing was generated


@pytest.mark.slow
def test_finetune_run(ws, tiny_model, chat_data):
    env = env_for(ws)
    args = ["finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(ws / "ft"), "--iters", "400",
            "--num-layers", "-1", "--steps-per-eval", "10", "--learning-rate", "1e-2"]
    def checkpointed() -> bool:
        try:
            return json.loads((ws / "ft" / "checkpoints" / "state.json").read_text())["iteration"] >= 10
        except (OSError, ValueError, KeyError):
            return False

    assert_clean_interrupt(interrupt(args, env, after=14, when=checkpointed))
    state = json.loads((ws / "ft" / "checkpoints" / "state.json").read_text())
    assert state["iteration"] >= 10
    target = state["iteration"] + 20
    s = json.loads(run([*args[:-6], "--iters", str(target), "--num-layers", "-1", "--steps-per-eval", "10", "--learning-rate", "1e-2",
                        "--resume", "--json", "--quiet"], env).stdout)
    assert s["iterations_run"] == target  # continued from the checkpoint, not from zero
    rows = [json.loads(line) for line in (ws / "ft" / "metrics.jsonl").read_text().splitlines()]
    its = [m["iteration"] for m in rows if m["kind"] == "val"]
    assert len(its) == len(set(its))  # nothing reported twice
