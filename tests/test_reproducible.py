"""Issue 37: results anyone can reproduce. An evaluation card in every folder, regrading without generating, a
comparison that refuses protocols that differ, decoding presets, and the request seed sent per sample."""

from __future__ import annotations

import json

import pytest

from distill.demo.loopback import LoopbackServer, Reply
from distill.demo.samples import sample_files
from distill.evaluation.evaluate import plan_seed, read_records


def student(body):
    """Right on even seeds, a hedge on odd ones (so a grader change flips verdicts)."""
    seed = body.get("seed") or 0
    return Reply(content="Final answer: \\boxed{144}" if seed % 2 == 0 else "Final answer: 144 or 145")


@pytest.fixture
def evaluated(run_cli, monkeypatch, tmp_path):
    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    srv = LoopbackServer(student).start()
    monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", srv.base_url)
    monkeypatch.setenv("DISTILL_STUDENT__MAX_RETRIES", "0")
    out = tmp_path / "ev"
    run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--runs", "2", "--samples", "3", "--temperature", "0.8",
            "--no-judge", "--quiet", "--out", str(out))
    yield srv, out
    srv.stop()


@pytest.mark.slow
def test_every_evaluation_has_a_card_and_sends_each_samples_seed(evaluated):
    srv, out = evaluated
    card = json.loads((out / "card.json").read_text())
    assert card["sampling"]["temperature"] == 0.8 and card["runs"] == 2 and card["samples"] == 3 and card["grader_version"]
    assert card["backend"]["base_url"] == srv.base_url and card["backend"]["model"] and card["versions"]["mlx-lm"]
    sent = sorted(r["seed"] for r in srv.log.requests)
    records = read_records(out / "responses.jsonl")
    assert sent == sorted(r.seed for r in records) == sorted(plan_seed(0, k, i) for k in range(2) for i in range(3))


def test_regrade_makes_no_generation_call_and_reproduces_the_verdicts(evaluated, run_cli):
    srv, out = evaluated
    before = [(r.problem_id, r.run, r.sample, r.correct, r.verdict.method) for r in read_records(out / "responses.jsonl")]
    calls = srv.log.count
    entry = json.loads(run_cli("eval", "regrade", str(out), "--json").stdout)
    assert srv.log.count == calls  # zero generation calls
    after = [(r.problem_id, r.run, r.sample, r.correct, r.verdict.method) for r in read_records(out / "responses.jsonl")]
    assert after == before and entry["changed"] == 0 and entry["records"] == 6
    assert [json.loads(line)["to"] for line in (out / "regrades.jsonl").read_text().splitlines()] == [entry["to"]]


@pytest.mark.slow
def test_regrade_applies_a_changed_grader_to_stored_answers(evaluated, run_cli):
    """As if these answers were graded by a grader that accepted hedges: regrade fixes them and says how many changed."""
    srv, out = evaluated
    path = out / "responses.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for r in rows:
        r["verdict"] = {**r["verdict"], "correct": True, "method": "math_verify"}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = json.loads((out / "eval_config.json").read_text())
    (out / "eval_config.json").write_text(json.dumps({**cfg, "grader": "an-older-grader"}))
    entry = json.loads(run_cli("eval", "regrade", str(out), "--json").stdout)
    hedged = sum("or 145" in r["response"] for r in rows)
    assert entry["from"] == "an-older-grader" and entry["changed"] == hedged > 0
    s = json.loads((out / "summary.json").read_text())
    assert s["grader"] == entry["to"] and s["mean"] == pytest.approx(1 - hedged / 6)


@pytest.mark.slow
def test_compare_refuses_a_different_protocol_in_one_line(evaluated, run_cli, tmp_path):
    srv, out = evaluated
    other = tmp_path / "cold"
    run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--runs", "2", "--samples", "3", "--temperature", "0.2",
            "--no-judge", "--quiet", "--out", str(other))
    r = run_cli("eval", "compare", str(out), str(other), ok=False)
    assert r.exit_code == 2 and "temperature 0.8 vs 0.2" in r.output and len(r.output.strip().splitlines()) == 1
    r = run_cli("eval", "compare", str(out), str(other), "--allow-protocol-diff")
    assert r.output.startswith("protocol differs:") and "temperature 0.8 vs 0.2" in r.output.splitlines()[0]


@pytest.mark.slow
def test_the_deepseek_protocol_in_one_word_and_the_greedy_runs_note(run_cli, monkeypatch, tmp_path):
    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    with LoopbackServer(student) as srv:
        monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", srv.base_url)
        run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--protocol", "deepseek", "--no-judge", "--quiet",
                "--out", str(tmp_path / "ds"))
        assert {(r["temperature"], r["top_p"]) for r in srv.log.requests} == {(0.6, 0.95)} and srv.log.count == 4
        r = run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--runs", "3", "--no-judge",
                    "--out", str(tmp_path / "greedy"))
        assert "at temperature 0 repeats the first run 3 times" in r.stderr
    card = json.loads((tmp_path / "ds" / "card.json").read_text())
    assert card["sampling"]["temperature"] == 0.6 and card["samples"] == 4


def test_a_comment_only_grader_edit_changes_no_study_fingerprint(tmp_path):
    """The grader's version is its behaviour: a docstring or comment edit leaves it, and so every fingerprint, as it was."""
    import shutil
    from pathlib import Path

    from distill.grading.version import RULE_MODULES, grader_version, rules_hash

    src = Path(__file__).resolve().parents[1] / "grading"
    for name in RULE_MODULES:
        shutil.copy(src / name, tmp_path / name)
    text = (tmp_path / "grader.py").read_text()
    (tmp_path / "grader.py").write_text(text.replace("def grade(", "# a comment only\ndef grade(", 1))
    assert rules_hash(tmp_path) == grader_version()
