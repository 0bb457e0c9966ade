"""`eval run --samples` and `--thinking-budget` against recorded students on a loopback server."""

from __future__ import annotations

import pytest

import itertools
import json
import threading

from distill.demo.loopback import LoopbackServer, Reply
from distill.demo.samples import sample_files
from distill.evaluation.evaluate import read_records


def student_env(monkeypatch, base_url: str) -> None:
    monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", base_url)
    monkeypatch.setenv("DISTILL_STUDENT__MAX_RETRIES", "0")


def thinking_student(body):
    """Thinks forever (finds the right answer, 144, along the way); answers 5 when made to stop."""
    msgs = body["messages"]
    if msgs[-1]["role"] == "assistant":  # the continuation after a forced end of thinking
        assert msgs[-1]["content"].endswith("</think>\n\nFinal answer:") and body.get("continue_final_message") is True
        return Reply(content=" \\boxed{5}")
    return Reply(content="<think>\nSum of odd numbers... so \\boxed{144} maybe. Let me keep checking " + "and checking " * 30,
                 finish_reason="length", completion_tokens=body["max_tokens"])


@pytest.mark.slow
def test_a_thinking_student_is_forced_to_answer_and_graded_on_that_answer_only(run_cli, monkeypatch, tmp_path):
    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    with LoopbackServer(thinking_student) as srv:
        student_env(monkeypatch, srv.base_url)
        common = ["eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--no-judge", "--quiet", "--max-tokens", "300"]
        run_cli(*common, "--out", str(tmp_path / "open"))
        run_cli(*common, "--thinking-budget", "100", "--out", str(tmp_path / "forced"))
    unforced, = read_records(tmp_path / "open" / "responses.jsonl")
    assert unforced.correct is None and unforced.verdict.method == "no_answer" and not unforced.forced  # never closed: no answer
    forced, = read_records(tmp_path / "forced" / "responses.jsonl")
    assert forced.forced and forced.correct is False and forced.verdict.extracted == "5"  # not the 144 inside the thinking
    assert forced.thinking_words > 30 and forced.answer_words == 3  # "Final answer: \\boxed{5}"
    s = json.loads((tmp_path / "forced" / "summary.json").read_text())
    assert s["forced_rate"] == 1.0 and s["decoding"]["thinking_budget"] == 100 and s["decoding"]["max_tokens"] == 300


@pytest.mark.slow
def test_samples_give_avg_maj_and_pass_at_k(run_cli, monkeypatch, tmp_path):
    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    counter, lock = itertools.count(), threading.Lock()

    def student(body):  # every 4th answer is right (144), the others wrong in two different ways
        with lock:
            i = next(counter)
        return Reply(content=["\\boxed{144}", "\\boxed{143}", "\\boxed{12^2 - 1}", "\\boxed{100}"][i % 4])

    with LoopbackServer(student) as srv:
        student_env(monkeypatch, srv.base_url)
        s = json.loads(run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--no-judge", "--quiet", "--json",
                               "--samples", "8", "--runs", "2", "--temperature", "0.7", "--concurrency", "1",
                               "--out", str(tmp_path / "ev")).stdout)
    m = s["sample_metrics"]
    assert m["samples_per_run"] == 8 and m["avg@8"]["mean"] == 0.25
    assert m["maj@8"]["mean"] == 0.0  # 143 and 12^2 - 1 are one answer (4 votes of 8): the wrong majority wins
    assert m["pass@k"]["1"]["mean"] == 0.25 and abs(m["pass@k"]["4"]["mean"] - (1 - 495 / 1820)) < 1e-9  # n=16, c=4: 1 - C(12,4)/C(16,4)
    assert s["n_responses"] == 16 and s["decoding"]["samples"] == 8 and s["decoding"]["runs"] == 2


@pytest.mark.slow
def test_two_endpoints_share_the_work_and_a_dead_one_is_covered(run_cli, monkeypatch, tmp_path):
    """Two loopback servers; the second dies after a few answers: its share goes to the first."""
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    served = {"a": 0, "b": 0}
    lock = threading.Lock()

    def answer(name, limit=None):
        def reply(body):
            with lock:
                served[name] += 1
                dead = limit is not None and served[name] > limit
            return Reply(status=503) if dead else Reply(content="\\boxed{144}")
        return reply

    with LoopbackServer(answer("a")) as a, LoopbackServer(answer("b", limit=3)) as b:
        monkeypatch.setenv("DISTILL_STUDENT__MAX_RETRIES", "0")
        s = json.loads(run_cli("eval", "run", "--endpoint", "student", "--urls", f"{a.base_url},{b.base_url}", "--problems", "sample",
                               "--no-judge", "--quiet", "--json", "--concurrency", "2", "--out", str(tmp_path / "ev")).stdout)
    records = read_records(tmp_path / "ev" / "responses.jsonl")
    assert len(records) == 24 and all(r.finish_reason == "stop" for r in records) and s["error_rate"] == 0
    by = {r.endpoint for r in records}
    assert by == {a.base_url, b.base_url}  # both answered; every response says which
    assert sum(r.endpoint == b.base_url for r in records) == 3  # b's answers before it died; the rest went to a
    assert s["decoding"]["base_urls"] == [a.base_url, b.base_url]


def budgeted_student(think_words: int, answer_words: int, opened_by_template: bool = False):
    """A model that honours max_tokens (a token is a word): it would write `think_words` of thinking,
    then an answer of `answer_words` ending in \\boxed{144}; a continuation picks up where the partial
    assistant turn stops, and after a forced end of thinking it answers 5."""
    thinking = " ".join(f"t{i}" for i in range(think_words))
    head = "" if opened_by_template else "<think> "
    full = (f"{head}{thinking} </think> " if think_words else "") + " ".join(f"a{i}" for i in range(answer_words - 1)) + " \\boxed{144}"
    words = full.split()

    def respond(body):
        msgs, limit = body["messages"], body["max_tokens"]
        if msgs[-1]["role"] == "assistant":
            assert body.get("continue_final_message") is True and body.get("add_generation_prompt") is False
            partial = msgs[-1]["content"]
            rest = ["\\boxed{5}"] if partial.endswith("Final answer:") else words[len(partial.split()):]
        else:
            rest = words
        cut = rest[:limit]
        return Reply(content=("" if msgs[-1]["role"] == "user" else " ") + " ".join(cut), completion_tokens=len(cut),
                     finish_reason="length" if len(rest) > limit else "stop")

    return respond


@pytest.mark.parametrize("think, answer, forced, correct, template_opens", [
    (30, 120, False, True, False),   # closes </think> inside the budget: the answer gets the rest of --max-tokens
    (0, 120, False, True, False),    # no thinking at all: the whole answer, not one cut at the budget
    (90, 10, True, False, False),    # still thinking at the budget: forced, continued, graded on the forced answer
    (90, 10, True, False, True),     # the same, with <think> opened by a reasoning model's chat template
])
@pytest.mark.parametrize("stream", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["json", "stream"])
def test_a_thinking_budget_caps_the_thinking_not_the_answer(run_cli, monkeypatch, tmp_path, think, answer, forced, correct, template_opens,
                                                            stream):
    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    with LoopbackServer(budgeted_student(think, answer, template_opens)) as srv:
        student_env(monkeypatch, srv.base_url)
        if stream:  # the inline thinking arrives as content deltas
            monkeypatch.setenv("DISTILL_STUDENT__STREAM", "true")
        if template_opens:
            monkeypatch.setenv("DISTILL_STUDENT__MODEL", "deepseek-r1-distill-qwen-7b")
        run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--no-judge", "--quiet",
                "--thinking-budget", "50", "--max-tokens", "400", "--out", str(tmp_path / "ev"))
        assert all(bool(b.get("stream")) == stream for b in srv.log.requests)
    rec, = read_records(tmp_path / "ev" / "responses.jsonl")
    assert rec.forced is forced and rec.correct is correct and rec.finish_reason == "stop"
    if not forced:
        assert rec.answer_words == answer and rec.response.split()[-1] == "\\boxed{144}"  # the whole answer was graded
        assert rec.thinking_words == think


def test_a_pass_k_above_the_samples_is_said_not_silently_dropped(run_cli, monkeypatch, tmp_path):
    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    with LoopbackServer(lambda body: Reply(content="\\boxed{144}")) as srv:
        student_env(monkeypatch, srv.base_url)
        r = run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--no-judge", "--quiet", "--json",
                    "--samples", "2", "--pass-k", "1,2,4,8", "--out", str(tmp_path / "ev"))
    assert "pass@4, pass@8 need(s) at least that many --samples; not reported" in r.stderr
    assert set(json.loads(r.stdout)["sample_metrics"]["pass@k"]) == {"1", "2"}
