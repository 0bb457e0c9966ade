"""The Solver/Verifier team with AutoGen's replayed model clients."""

from __future__ import annotations

import asyncio

import diskcache
import pytest
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient
from distill.agents.clients import build_client
from distill.agents.team import Templates
from distill.corpus.runner import run_corpus
from distill.corpus.transcripts import TranscriptStore
from distill.grading.pool import Grader
from distill.grading.solution_format import check_format
from distill.problems.schema import Problem

from distill.config import ModelRole

SOLVER = ModelRole(base_url="http://127.0.0.1:9/v1", model="r1-test", api_key_env=None, family="r1")
VERIFIER = ModelRole(base_url="http://127.0.0.1:9/v1", model="chat-test", api_key_env=None)
PROBLEM = Problem(id="t-2001-fs-01", source="t", year=2001, section="fs", number=1, text="What is 8 + 9?", answer="17")
GOOD_FORMAT = "Step 1: Add 8 and 9.\nStep 2: 8 + 9 = 17.\nFinal answer: \\boxed{17}"


def result(text, thought=None, finish="stop"):
    return CreateResult(finish_reason=finish, content=text, usage=RequestUsage(prompt_tokens=10, completion_tokens=5), cached=False, thought=thought)


@pytest.fixture(scope="module")
def grader():
    with Grader(workers=1) as g:
        yield g


def run(tmp_path, grader, solver_replies, formatter_replies, max_rounds=3, problems=(PROBLEM,)):
    cache = diskcache.Cache(str(tmp_path / "cache"))
    solver = build_client(SOLVER, cache, inner=ReplayChatCompletionClient(solver_replies), role_name="solver")
    fmt = build_client(VERIFIER, cache, inner=ReplayChatCompletionClient(formatter_replies), role_name="verifier")
    store = TranscriptStore(tmp_path / "transcripts")
    summary = asyncio.run(run_corpus(list(problems), store=store, grader=grader, solver_client=solver, formatter_client=fmt,
                                     solver_role=SOLVER, verifier_role=VERIFIER, templates=Templates.load(), max_rounds=max_rounds))
    return summary, store


@pytest.mark.parametrize(
    "text,ok",
    [
        (GOOD_FORMAT, True),
        ("**Step 1:** Add.\n**Step 2:** 17.\nFinal answer: \\boxed{17}", True),
        ("Step 1: Add.\nStep 3: 17.\nFinal answer: \\boxed{17}", False),
        ("Step 1: Add.\nSo it is 17.\nFinal answer: \\boxed{17}", False),
        ("Step 1: Add.\nStep 2: 17.", False),
        ("Final answer: \\boxed{17}", False),
    ],
)
def test_check_format(text, ok):
    assert (check_format(text) is None) is ok


def test_wrong_then_right_is_accepted_with_thoughts_and_verdicts(tmp_path, grader):
    summary, store = run(tmp_path, grader, [result("It is \\boxed{18}.", thought="8+9... 18?"), result("Again: \\boxed{17}.", thought="8+9=17")], [result(GOOD_FORMAT)])
    t = store.get(PROBLEM.id)
    assert (summary.accepted, summary.rejected, summary.failed) == (1, 0, 0)
    assert t.status == "accepted" and t.rounds == 2 and t.solution == GOOD_FORMAT and t.final_answer == "17"
    assert [v.verdict.correct for v in t.verdicts] == [False, True]
    assert "APPROVED" in t.stop_reason
    solver_msgs = [m for m in t.messages if m.source == "solver"]
    assert [m.thought for m in solver_msgs] == ["8+9... 18?", "8+9=17"]
    feedback = [m.content for m in t.messages if m.source == "verifier"][0]
    assert "`18` is not correct" in feedback and "17" not in feedback  # feedback never shows the key
    assert [m.source for m in t.messages] == ["user", "solver", "verifier", "solver", "formatter", "verifier"]
    assert set(t.templates) == {"solver_system", "solver_user", "verifier_feedback", "formatter_system", "formatter"}
    assert t.usage.prompt_tokens > 0 and t.calls["network"] == 3


def test_always_wrong_is_rejected_after_max_rounds(tmp_path, grader):
    summary, store = run(tmp_path, grader, [result("\\boxed{18}"), result("\\boxed{16}")], [], max_rounds=2)
    t = store.get(PROBLEM.id)
    assert t.status == "rejected" and t.rounds == 2 and "after 2 rounds" in t.reason and t.rejection.kind == "wrong_answer" and t.rejection.rounds == 2 and t.solution is None
    assert summary.rejected == 1 and "REJECTED" in t.stop_reason


def test_truncated_answer_is_never_accepted(tmp_path, grader):
    summary, store = run(tmp_path, grader, [result("so the answer is \\boxed{17", finish="length"), result("\\boxed{17}")], [result(GOOD_FORMAT)])
    t = store.get(PROBLEM.id)
    assert t.status == "accepted" and t.verdicts[0].truncated is True and t.rounds == 2


def test_bad_format_is_retried_then_rejected(tmp_path, grader):
    bad = "The sum is 17."
    summary, store = run(tmp_path, grader, [result("\\boxed{17}")], [result(bad), result("Step 1: 8+9=16.\nFinal answer: \\boxed{16}")])
    t = store.get(PROBLEM.id)
    assert t.status == "rejected" and "formatting failed" in t.reason and "no longer equals the key" in t.reason and t.rejection.kind == "format_failed"
    assert len(t.format_checks) == 2


def test_failed_call_is_recorded_as_failed_and_retried_next_run(tmp_path, grader):
    summary, store = run(tmp_path, grader, [], [])  # the replay raises at once: a failed model call
    t = store.get(PROBLEM.id)
    assert summary.failed == 1 and t.status == "failed" and t.error
    summary2, store = run(tmp_path, grader, [result("\\boxed{17}")], [result(GOOD_FORMAT)])
    assert summary2.accepted == 1 and store.get(PROBLEM.id).status == "accepted"


def test_rerun_makes_no_model_calls(tmp_path, grader):
    run(tmp_path, grader, [result("\\boxed{17}")], [result(GOOD_FORMAT)])
    summary, _ = run(tmp_path, grader, [], [])  # nothing left to replay: any call would fail
    assert (summary.skipped, summary.accepted, summary.model_calls) == (1, 1, 0)


def test_a_solver_that_hedges_is_rejected_by_the_verifier(tmp_path, grader):
    """Issue 36: `17 or 18` names the key's value and another; the Verifier never accepts it."""
    hedges = [result("It is \\boxed{17} or \\boxed{18}."), result("Final answer: 16 to 18"), result("Answer: 17, 18")]
    summary, store = run(tmp_path, grader, hedges, [result(GOOD_FORMAT)], max_rounds=3)
    t = store.get(PROBLEM.id)
    assert t.status == "rejected" and summary.accepted == 0 and t.rejection.kind == "wrong_answer"
    assert [v.verdict.correct for v in t.verdicts] == [False, False, False]
    assert all(v.verdict.method == "hedged" for v in t.verdicts)


def test_a_solver_that_hedges_then_commits_is_accepted_on_its_committed_answer(tmp_path, grader):
    summary, store = run(tmp_path, grader, [result("\\boxed{17} or \\boxed{18}"), result("Final answer: \\boxed{17}")], [result(GOOD_FORMAT)])
    t = store.get(PROBLEM.id)
    assert t.status == "accepted" and t.rounds == 2 and t.verdicts[0].verdict.reason == "hedged: names 17 and 18"


def _as_if_an_old_grader_accepted_the_hedge(store):
    """A transcript as a grader that accepted hedges left it: accepted at round 1 on `17 or 18`."""
    t = store.get(PROBLEM.id)
    first = t.verdicts[0]
    messages = [m for m in t.messages if not (m.source == "solver" and "or" not in m.content)]
    old = t.model_copy(update={"messages": messages, "rounds": 1, "grader_version": "an-older-grader",
                               "verdicts": [first.model_copy(update={"verdict": first.verdict.model_copy(update={"correct": True})})]})
    store.put(old)
    return old


def test_a_grader_change_reaches_the_corpus(tmp_path, grader):
    """Issue 36: an accepted transcript whose verified reply the current grader refuses is re-checked with no model
    call, skipped by exports and re-opened by the next corpus run, whose cached calls replay (0 network calls)."""
    from distill.corpus.recheck import is_stale, recheck_many
    from distill.grading.version import grader_version

    run(tmp_path, grader, [result("\\boxed{17} or \\boxed{18}"), result("\\boxed{17}")], [result(GOOD_FORMAT)])
    old = _as_if_an_old_grader_accepted_the_hedge(store := TranscriptStore(tmp_path / "transcripts"))
    assert is_stale(old) and "hedged" in recheck_many([old], grader)[(PROBLEM.id, 0)]
    summary, store = run(tmp_path, grader, [], [])  # nothing to replay: any network call would fail
    t = store.get(PROBLEM.id)
    assert summary.reopened == 1 and summary.model_calls == 0 and summary.accepted == 1
    assert t.status == "accepted" and t.rounds == 2 and t.grader_version == grader_version() and not is_stale(t)


def test_a_stale_transcript_the_current_grader_accepts_is_kept_without_calls(tmp_path, grader):
    from distill.grading.version import grader_version

    run(tmp_path, grader, [result("\\boxed{17}")], [result(GOOD_FORMAT)])
    store = TranscriptStore(tmp_path / "transcripts")
    store.put(store.get(PROBLEM.id).model_copy(update={"grader_version": None}))  # recorded before versions were kept
    summary, store = run(tmp_path, grader, [], [])
    assert (summary.reopened, summary.skipped, summary.model_calls) == (0, 1, 0)
    assert store.get(PROBLEM.id).grader_version == grader_version()
