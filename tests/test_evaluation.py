"""Evaluation on the tiny Qwen2: local mlx-lm (with and without adapter), a real mlx_lm.server
on loopback for the endpoint path, resume, exact recomputation, length study and report."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from distill.demo.samples import sample_files
from distill.evaluation.evaluate import read_records
from distill.evaluation.stats import summarise_records
from distill.finetune.args import FinetuneArgs
from distill.finetune.run import run_finetune

EVAL = ["--runs", "2", "--no-judge", "--max-tokens", "12", "--quiet"]


@pytest.fixture(scope="module")
def adapter(tiny_model, chat_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapter") / "a"
    run_finetune(FinetuneArgs(model=str(tiny_model), data=str(chat_data), out=str(out), iters=40, num_layers=-1, steps_per_eval=10, learning_rate=1e-2))
    return out


@pytest.fixture
def samples(run_cli):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))


@pytest.mark.slow
def test_summary_recomputes_exactly_from_responses(samples, run_cli, tiny_model, workspace):
    out = workspace / "runs" / "base"
    s = json.loads(run_cli("eval", "run", "--model", str(tiny_model), "--problems", "sample:2002-2003", "--out", str(out), *EVAL, "--json").output)
    records = read_records(out / "responses.jsonl")
    assert len(records) == 16 * 2 and s["n_problems"] == 16 and len(s["runs"]) == 2
    again = summarise_records(records)
    for key in ("mean", "std", "ci95", "by_year", "by_section", "mean_words", "truncated_rate", "undecided_rate", "judge_rate", "runs"):
        assert s[key] == again[key], key
    # and by hand: accuracy of run 1 is its share of correct=true
    run1 = [r for r in records if r.run == 1]
    assert s["runs"][1]["accuracy"] == sum(r.correct is True for r in run1) / len(run1)
    from distill.evaluation.evaluate import plan_seed

    assert {r.seed for r in records if r.run == 1} <= {plan_seed(0, 1, i) for i in range(16)}  # the seed used, from the plan
    assert {r.finish_reason for r in records} <= {"stop", "length"}
    assert s["sampling"] == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 12, "thinking_budget": None} and s["backend"]["backend"] == "mlx"
    assert s["decoding"]["grader"] == s["grader"] and s["decoding"]["runs"] == 2 and s["decoding"]["samples"] == 1


@pytest.mark.slow
def test_resume_generates_only_missing(samples, run_cli, tiny_model, workspace, monkeypatch):
    from distill.evaluation import backends

    out = workspace / "runs" / "resume"
    args = ["eval", "run", "--model", str(tiny_model), "--problems", "sample:2001", "--out", str(out), *EVAL]
    run_cli(*args)
    lines = (out / "responses.jsonl").read_text().splitlines()
    assert len(lines) == 16
    # an interruption: 5 complete lines survive, the sixth is torn
    (out / "responses.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:40])
    generated = []
    real = backends.MlxBackend.generate

    def counting(self, prompts, sampling, seed, on_batch=None, seeds=None):
        generated.extend(prompts)
        return real(self, prompts, sampling, seed, on_batch, seeds)

    monkeypatch.setattr(backends.MlxBackend, "generate", counting)
    run_cli(*args)
    chunk = 2 * int(EVAL[EVAL.index("--batch-size") + 1]) if "--batch-size" in EVAL else 16
    assert len(generated) == 16 - (5 // chunk) * chunk  # unfinished chunks only, each generated whole with its own seed
    records = read_records(out / "responses.jsonl")
    assert len(records) == 16 and len({(r.problem_id, r.run) for r in records}) == 16
    assert [r.response for r in records] == [json.loads(line)["response"] for line in lines]  # what the first run wrote


@pytest.mark.slow
def test_adapter_changes_output_and_is_recorded(samples, run_cli, tiny_model, adapter, workspace):
    base, tuned = workspace / "runs" / "b", workspace / "runs" / "t"
    common = ["--model", str(tiny_model), "--problems", "sample:2001", "--runs", "1", "--no-judge", "--max-tokens", "12", "--quiet"]
    run_cli("eval", "run", *common, "--out", str(base))
    run_cli("eval", "run", *common, "--adapter", str(adapter), "--out", str(tuned))
    rb, rt = read_records(base / "responses.jsonl"), read_records(tuned / "responses.jsonl")
    assert [r.response for r in rb] != [r.response for r in rt]
    assert json.loads((tuned / "summary.json").read_text())["backend"]["adapter"] == str(adapter)
    cmp = json.loads(run_cli("eval", "compare", str(base), str(tuned), "--json").output)
    assert cmp["paired"]["bootstrap"]["n"] == 8 and len(cmp["evaluations"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mlx_server(model, *extra: str) -> tuple[subprocess.Popen, int]:
    """A real `mlx_lm server` process on a free port, once its /health answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlx_lm", "server", "--model", str(model), *extra,
                             "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, MLX_DISABLE_COMPILE="1"))
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    pytest.fail("mlx_lm.server did not start")


@pytest.mark.slow
def test_endpoint_path_against_real_mlx_lm_server(samples, run_cli, tiny_model, adapter, workspace, monkeypatch):
    proc, port = start_mlx_server(tiny_model, "--adapter-path", str(adapter))
    try:
        monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", f"http://127.0.0.1:{port}/v1")
        out = workspace / "runs" / "served"
        s = json.loads(run_cli("eval", "run", "--endpoint", "student", "--problems", "sample:2001", "--out", str(out), *EVAL, "--json").output)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    records = read_records(out / "responses.jsonl")
    assert len(records) == 16 and s["backend"] == {"backend": "endpoint", "role": "student", "base_url": f"http://127.0.0.1:{port}/v1", "model": "default_model"}
    assert all(r.usage.completion_tokens > 0 for r in records) and {r.finish_reason for r in records} <= {"stop", "length"}


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--problems", "nosuch:2001"], "unknown problem spec 'nosuch:2001'"),
        (["--problems", "sample:1999"], "selects no problems"),
        (["--problems", "sample:test"], "needs an export"),
        (["--problems", "sample-2001-fs-01,bogus"], "unknown problem id(s): bogus"),
    ],
)
def test_bad_specs(samples, run_cli, tiny_model, workspace, args, fragment):
    r = run_cli("eval", "run", "--model", str(tiny_model), *args, "--out", str(workspace / "x"), "--no-judge", ok=False)
    assert r.exit_code == 2 and fragment in r.output


@pytest.mark.slow
def test_mismatched_adapter_and_unreachable_endpoint_fail_before_generation(samples, run_cli, tiny_model, adapter, workspace, tmp_path, monkeypatch):
    from distill.demo.tiny import build_tiny_qwen2

    other = build_tiny_qwen2(tmp_path / "other", hidden=32)
    r = run_cli("eval", "run", "--model", str(other), "--adapter", str(adapter), "--problems", "sample:2001", "--out", str(workspace / "m"), "--no-judge", ok=False)
    assert r.exit_code == 2 and "adapter" in r.output and not (workspace / "m" / "responses.jsonl").exists()
    monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    r = run_cli("eval", "run", "--endpoint", "student", "--problems", "sample:2001", "--out", str(workspace / "e"), "--no-judge", ok=False)
    assert r.exit_code == 2 and "cannot connect" in r.output and not (workspace / "e" / "responses.jsonl").exists()


@pytest.mark.slow
def test_length_study_and_report(samples, run_cli, tiny_model, workspace):
    out = workspace / "runs" / "length"
    study = json.loads(run_cli("eval", "length-study", "--model", str(tiny_model), "--prompt-levels", "--levels", "R1,R6",
                               "--problems", "sample:2001", "--out", str(out), *EVAL, "--json").output)
    assert set(study["levels"]) == {"R1", "R6"} and (out / "length_vs_accuracy.png").stat().st_size > 1000
    r1 = json.loads((out / "R1" / "summary.json").read_text())
    assert study["levels"]["R1"]["mean"] == r1["mean"] and r1["prompt_levels"] is True
    report = workspace / "report" / "report.md"
    run_cli("eval", "report", str(out / "R1"), str(out / "R6"), "--length-study", str(out), "--out", str(report))
    text = report.read_text()
    assert f"{100 * r1['mean']:.2f} ± {100 * r1['std']:.2f}" in text and "![accuracy against length](report_length.png)" in text
    for png in ("report_spread.png", "report_by_year.png", "report_length.png"):
        assert (report.parent / png).exists(), png


@pytest.mark.slow
def test_length_study_with_one_adapter_per_level(samples, run_cli, tiny_model, adapter, workspace):
    out = workspace / "runs" / "length-adapters"
    study = json.loads(run_cli("eval", "length-study", "--model", str(tiny_model), "--adapters", f"R1={adapter},R6={adapter}",
                               "--levels", "R1,R6", "--problems", "sample:2001", "--out", str(out), *EVAL, "--json").output)
    assert study["mode"] == "adapters" and set(study["levels"]) == {"R1", "R6"}
    assert json.loads((out / "R6" / "summary.json").read_text())["backend"]["adapter"] == str(adapter)
    r = run_cli("eval", "length-study", "--model", str(tiny_model), "--adapters", "R9=x", "--problems", "sample:2001",
                "--out", str(out / "bad"), "--no-judge", ok=False)
    assert r.exit_code == 2 and "R9=x" in r.output


@pytest.mark.shared_data
@pytest.mark.slow
def test_math500_breakdown_by_subject_and_level(shared_data, run_cli, tiny_model, workspace):
    run_cli("problems", "import", str(shared_data / "math500.jsonl"))
    out = workspace / "runs" / "math500"
    s = json.loads(run_cli("eval", "run", "--model", str(tiny_model), "--problems", "math500", "--limit", "12", "--out", str(out),
                           *EVAL, "--json").output)
    assert s["n_problems"] == 12 and s["by_subject"] and s["by_difficulty"]
    assert sum(v["n"] for v in s["by_subject"].values()) == 12


@pytest.mark.slow
def test_failed_generations_are_retried_on_resume(samples, run_cli, workspace, monkeypatch):
    from distill.demo.loopback import LoopbackServer, Reply, last_user_text

    down = {"on": True}

    def responder(body):
        if down["on"] and "Day 1 of a school year" in last_user_text(body):
            return Reply(status=500)
        return Reply(content="Step 1: think.\nFinal answer: \\boxed{17}")

    out = workspace / "runs" / "flaky"
    args = ["eval", "run", "--endpoint", "student", "--problems", "sample:2001", "--out", str(out), "--runs", "1", "--no-judge", "--quiet", "--json"]
    with LoopbackServer(responder) as srv:
        monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", srv.base_url)
        monkeypatch.setenv("DISTILL_STUDENT__MAX_RETRIES", "0")
        first = json.loads(run_cli(*args).stdout)
        n = srv.log.count
        down["on"] = False
        second = json.loads(run_cli(*args).stdout)
        assert srv.log.count - n == 1  # only the failed one was asked again
    assert first["error_rate"] == pytest.approx(1 / 8) and second["error_rate"] == 0
    records = read_records(out / "responses.jsonl")
    # the retried response is appended (append-only log); the latest line per (problem, run) counts
    assert len(records) == 8 and all(r.finish_reason != "error" for r in records)
    assert len((out / "responses.jsonl").read_text().splitlines()) == 9


@pytest.mark.slow
def test_real_mlx_lm_server_sends_a_reasoning_models_thinking_in_a_field(samples, run_cli, workspace, tmp_path, monkeypatch):
    """A tiny model whose template opens <think> (a reasoning model's): mlx_lm.server returns what it
    generates inside the block as `message.reasoning`; distill keeps it as the response's thinking and
    the thinking budget forces an answer from it."""
    from distill.demo.tiny import build_tiny_qwen2
    from distill.reasoning import split_reply

    model = build_tiny_qwen2(tmp_path / "thinker", thinking=True)
    proc, port = start_mlx_server(model)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        body = json.dumps({"model": "default_model", "max_tokens": 12, "messages": [{"role": "user", "content": "What is 2 + 2?"}]})
        req = urllib.request.Request(f"{url}/chat/completions", data=body.encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            message = json.loads(r.read())["choices"][0]["message"]
        thinking, _ = split_reply(message.get("content"), message)
        assert message.get("reasoning") and thinking == message["reasoning"]  # the server's shape: a `reasoning` field
        monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", url)
        out = workspace / "runs" / "thinker"
        run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--no-judge", "--quiet",
                "--thinking-budget", "8", "--max-tokens", "24", "--out", str(out))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rec, = read_records(out / "responses.jsonl")
    assert rec.response.startswith("<think>\n")  # the field's thinking, kept in the response (this random model thinks in newlines)
    assert rec.forced and "</think>" in rec.response  # cut while thinking: the block closed and an answer asked for


@pytest.mark.slow
def test_an_interrupted_sampled_evaluation_resumes_to_what_an_uninterrupted_one_gives(samples, run_cli, tiny_model, workspace, monkeypatch):
    """Issue 37: at temperature 0.8 with several runs and samples, stopped after its first chunk and run again, every
    (problem, run, sample) gets the response an uninterrupted evaluation gives, and each record carries its seed."""
    from distill.evaluation import backends
    from distill.evaluation.evaluate import plan_seed

    common = ["eval", "run", "--model", str(tiny_model), "--problems", "sample:2001", "--runs", "3", "--samples", "4", "--batch-size", "4",
              "--temperature", "0.8", "--top-p", "0.95", "--max-tokens", "16", "--no-judge", "--quiet"]
    straight, stopped = workspace / "runs" / "straight", workspace / "runs" / "stopped"
    run_cli(*common, "--out", str(straight))
    real, calls = backends.MlxBackend.generate, []

    def stop_after_first_chunk(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(backends.MlxBackend, "generate", stop_after_first_chunk)
    assert run_cli(*common, "--out", str(stopped), ok=False).exit_code == 130
    monkeypatch.setattr(backends.MlxBackend, "generate", real)
    assert 0 < len(read_records(stopped / "responses.jsonl")) < 8 * 3 * 4
    run_cli(*common, "--out", str(stopped))
    a = {(r.problem_id, r.run, r.sample): r for r in read_records(straight / "responses.jsonl")}
    b = {(r.problem_id, r.run, r.sample): r for r in read_records(stopped / "responses.jsonl")}
    assert len(a) == len(b) == 8 * 3 * 4
    assert sum(a[k].response != b[k].response for k in a) == 0
    assert len({r.response for r in a.values()}) > 8  # sampled: the runs and samples differ from each other
    assert all(a[k].seed == b[k].seed for k in a) and {r.seed for r in a.values()} <= {plan_seed(0, k, i) for k in range(3) for i in range(32)}
