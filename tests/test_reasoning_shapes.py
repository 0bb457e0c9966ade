"""Thinking kept whichever way a server sends it: a field (`reasoning_content`, `reasoning`), inline
`<think>` tags, or a block the chat template opened (only `</think>`), for the teacher and the student."""

from __future__ import annotations

import json

import pytest

from distill.reasoning import as_text, join_deltas, split_reply

SHAPE_CASES = [  # (content, message fields, shape setting) -> (thinking, answer)
    ("x = 2, so \\boxed{2}", {"reasoning_content": "try x=2"}, "auto", ("try x=2", "x = 2, so \\boxed{2}")),
    ("x = 2, so \\boxed{2}", {"reasoning": "try x=2"}, "auto", ("try x=2", "x = 2, so \\boxed{2}")),
    ("<think>\ntry x=2\n</think>\n\n\\boxed{2}", None, "auto", ("try x=2", "\\boxed{2}")),
    ("try x=2\n</think>\n\n\\boxed{2}", None, "auto", ("try x=2", "\\boxed{2}")),  # the template opened the block
    ("<think>\nstill going", None, "auto", ("still going", "")),                   # cut off while thinking
    ("\\boxed{2}", None, "auto", (None, "\\boxed{2}")),
    ("\\boxed{2}", {"reasoning": "try x=2"}, "inline", (None, "\\boxed{2}")),      # the setting says: tags only
    ("<think>a</think>b", {"reasoning": "f"}, "field", ("f", "b")),
    ("<think>a</think>b", None, "none", (None, "<think>a</think>b")),
]


@pytest.mark.parametrize("content,message,shape,expected", SHAPE_CASES)
def test_split_reply_reads_every_shape(content, message, shape, expected):
    assert split_reply(content, message, shape) == expected


def test_stream_deltas_join_into_one_message():
    deltas = [{"role": "assistant", "content": ""}, {"reasoning": "try "}, {"reasoning": "x=2"}, {"content": "\\boxed"}, {"content": "{2}"}]
    assert split_reply(join_deltas(deltas)["content"], join_deltas(deltas)) == ("try x=2", "\\boxed{2}")


def test_as_text_writes_the_inline_convention():
    assert as_text("t", "a") == "<think>\nt\n</think>\n\na" and as_text("t", "", still_thinking=True) == "<think>\nt"
    assert as_text(None, "a") == "a"


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("shape", ["reasoning_content", "reasoning", "inline", "template"])
def test_corpus_run_keeps_the_solver_thinking_in_every_shape(shape, stream, run_cli, monkeypatch, workspace, tmp_path):
    from distill.demo.loopback import LoopbackServer
    from distill.demo.recorded_teacher import ROLE_MODELS, RecordedTeacher, role_settings
    from distill.demo.samples import sample_files

    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    with LoopbackServer(RecordedTeacher(), shape=shape) as srv:
        for role, values in role_settings(srv.base_url).items():
            for k, v in values.items():
                monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        monkeypatch.setenv("DISTILL_SOLVER__FAMILY", "unknown")  # no guess from the name: the reply's shape decides
        if stream:
            monkeypatch.setenv("DISTILL_SOLVER__STREAM", "true")
        run_cli("corpus", "run", "--years", "2001", "--quiet")
        requests = list(srv.log.requests)
    solver_calls = [b for b in requests if b.get("model") == ROLE_MODELS["solver"]]
    assert solver_calls and all(bool(b.get("stream")) == stream for b in solver_calls)  # the verifier's calls stay plain
    out = tmp_path / "trace"
    run_cli("corpus", "export", "--out", str(out), "--level", "trace", "--source", "sample")
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert rows
    for row in rows:
        text = row["messages"][-1]["content"]
        thinking, answer = text.split("</think>", 1)
        assert thinking.startswith("<think>\n") and len(thinking) > len("<think>\n") + 10
        assert "<think>" not in answer and "</think>" not in answer and "\\boxed{" in answer
    # an earlier turn's thinking is never sent back (DeepSeek refuses it with HTTP 400)
    for body in requests:
        for m in body.get("messages", []):
            if m.get("role") == "assistant":
                assert "reasoning_content" not in m and "reasoning" not in m and "<think>" not in str(m.get("content"))
                assert "</think>" not in str(m.get("content"))


def field_student(think_words: int, answer_words: int):
    """A student behind a reasoning parser (a token is a word): its thinking arrives in a field, its answer
    (ending in \\boxed{144}) in `content`; after a forced end of thinking it answers 5."""
    from distill.demo.loopback import Reply

    thinking = [f"t{i}" for i in range(think_words)]
    answer = [f"a{i}" for i in range(answer_words - 1)] + ["\\boxed{144}"]

    def respond(body):
        msgs, limit = body["messages"], body["max_tokens"]
        if msgs[-1]["role"] == "assistant":  # the continuation of the partial turn distill sent back inline
            assert body.get("continue_final_message") is True
            partial = msgs[-1]["content"]
            if partial.endswith("Final answer:"):
                return Reply(content=" \\boxed{5}", completion_tokens=1)
            done = len(partial.split("</think>", 1)[1].split()) if "</think>" in partial else 0
            rest = answer[done:]
            return Reply(content=" " + " ".join(rest[:limit]), completion_tokens=min(limit, len(rest)),
                         finish_reason="length" if len(rest) > limit else "stop")
        if len(thinking) >= limit:
            return Reply(content="", reasoning=" ".join(thinking[:limit]), completion_tokens=limit, finish_reason="length")
        room = limit - len(thinking)
        return Reply(content=" ".join(answer[:room]), reasoning=" ".join(thinking) or None, completion_tokens=min(limit, len(thinking) + len(answer)),
                     finish_reason="length" if len(answer) > room else "stop")

    return respond


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("shape", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("think, answer, forced, correct", [
    (30, 120, False, True),   # thinks inside the budget: the answer gets the rest of --max-tokens
    (90, 10, True, False),    # still thinking at the budget: forced, continued, graded on the forced answer
])
def test_thinking_budget_with_the_thinking_in_a_field(shape, stream, think, answer, forced, correct, run_cli, monkeypatch, tmp_path):
    from distill.demo.loopback import LoopbackServer
    from distill.demo.samples import sample_files
    from distill.evaluation.evaluate import read_records

    run_cli("problems", "import", "--source", "sample", str(sample_files()[0]))
    with LoopbackServer(field_student(think, answer), shape=shape) as srv:
        monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", srv.base_url)
        monkeypatch.setenv("DISTILL_STUDENT__MAX_RETRIES", "0")
        monkeypatch.setenv("DISTILL_STUDENT__STREAM", "true" if stream else "false")
        s = json.loads(run_cli("eval", "run", "--endpoint", "student", "--problems", "sample-2001-fs-01", "--no-judge", "--quiet", "--json",
                               "--thinking-budget", "50", "--max-tokens", "400", "--out", str(tmp_path / "ev")).stdout)
        if stream:
            assert all(body.get("stream") is True for body in srv.log.requests)
    rec, = read_records(tmp_path / "ev" / "responses.jsonl")
    assert rec.forced is forced and rec.correct is correct and rec.finish_reason == "stop"
    assert rec.response.startswith("<think>\n") and rec.thinking_words == min(think, 50)
    if not forced:
        assert rec.answer_words == answer and rec.verdict.extracted == "144"
    else:
        assert rec.verdict.extracted == "5"  # not anything inside the thinking
    assert s["mean_thinking_words"] == rec.thinking_words and s["mean_answer_words"] == rec.answer_words
