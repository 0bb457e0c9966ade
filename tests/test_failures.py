"""Failures are loud, short and safe: classified endpoint errors, exit codes, validated values.

Exit codes (README): 0 all done, 1 some work failed, 2 bad input/configuration, 130 interrupted.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from distill.demo.loopback import LoopbackServer, Reply
from distill.demo.recorded_teacher import recorded_teacher, role_settings
from distill.demo.samples import sample_files


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def samples(run_cli):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))


def point_roles(monkeypatch, base_url: str, **extra: str) -> None:
    for role, values in role_settings(base_url).items():
        monkeypatch.setenv(f"DISTILL_{role.upper()}__BASE_URL", base_url)
        monkeypatch.setenv(f"DISTILL_{role.upper()}__MODEL", values["model"])
        monkeypatch.setenv(f"DISTILL_{role.upper()}__API_KEY_ENV", "")
        for k, v in extra.items():
            monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)


def no_traceback(text: str) -> bool:
    return "Traceback" not in text and "Error processing publish message" not in text


def test_corpus_run_against_a_401_server_stops_after_the_first_call(samples, run_cli, monkeypatch):
    with LoopbackServer(lambda body: Reply(status=401)) as srv:
        point_roles(monkeypatch, srv.base_url)
        r = run_cli("corpus", "run", "--year", "2001", "--concurrency", "1", ok=False)
        calls = srv.log.count
    assert r.exit_code == 2 and no_traceback(r.output)
    assert calls == 1  # no point in failing 8 problems one by one
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "solver role (recorded-r1 at http://127.0.0.1:" in errors[0] and "API key (HTTP 401)" in errors[0]


def test_corpus_run_against_a_closed_port_is_quick_and_says_so_once(samples, run_cli, monkeypatch, workspace):
    point_roles(monkeypatch, f"http://127.0.0.1:{closed_port()}/v1", backoff_s="0.05")
    r = run_cli("corpus", "run", "--years", "2001-2002", ok=False)
    assert r.exit_code == 1 and no_traceback(r.output)
    assert "cannot connect" in r.output and r.output.count("Error:") == 1
    assert (workspace / "logs" / "distill.log").exists()


@pytest.mark.slow
def test_a_failed_problem_records_the_exception_type_and_message(samples, run_cli, monkeypatch, workspace):
    from distill.corpus.transcripts import TranscriptStore

    def responder(body):
        return Reply(status=500) if "sum of the first 12 positive odd" in json.dumps(body) else recorded_teacher(body)

    with LoopbackServer(responder) as srv:
        point_roles(monkeypatch, srv.base_url, backoff_s="0.01", max_retries="1")
        r = run_cli("corpus", "run", "--year", "2001", ok=False)
    assert r.exit_code == 1 and no_traceback(r.output)
    t = TranscriptStore(workspace / "transcripts").get("sample-2001-fs-01")
    assert t.status == "failed" and "InternalServerError" in t.error and "HTTP 500" in t.error


@pytest.mark.slow
def test_eval_grade_with_the_judge_down_writes_every_rule_verdict(tmp_path, run_cli, monkeypatch):
    rows = [{"id": "a", "gold": "17", "response": r"\boxed{17}"}, {"id": "b", "gold": "17", "response": r"\boxed{18}"},
            {"id": "c", "gold": "17", "response": "I am not sure."}]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("DISTILL_JUDGE__BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    monkeypatch.setenv("DISTILL_JUDGE__API_KEY_ENV", "")
    monkeypatch.setenv("DISTILL_JUDGE__BACKOFF_S", "0.01")
    r = run_cli("eval", "grade", str(inp), "--out", str(tmp_path / "out.jsonl"), ok=False)
    assert r.exit_code == 1 and no_traceback(r.output)
    assert "judge role (deepseek-chat at http://127.0.0.1:" in r.output and "cannot connect" in r.output
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["correct"] for o in out] == [True, False, None]
    assert "judge failed" in out[2]["verdict"]["reason"]


def test_eval_grade_asks_for_a_key_only_when_a_line_needs_the_judge(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("DISTILL_JUDGE__API_KEY_ENV", "SURELY_UNSET_KEY_VAR")
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"gold": "17", "response": r"\boxed{17}"}) + "\n")
    run_cli("eval", "grade", str(inp), "--out", str(tmp_path / "o.jsonl"))
    inp.write_text(json.dumps({"gold": "17", "response": "no idea"}) + "\n")
    r = run_cli("eval", "grade", str(inp), "--out", str(tmp_path / "o.jsonl"), ok=False)
    assert r.exit_code == 2 and "$SURELY_UNSET_KEY_VAR" in r.output


@pytest.mark.parametrize("args, fragment", [
    (["eval", "run", "--model", "m", "--problems", "sample", "--out", "o", "--runs", "0"], "'--runs'"),
    (["eval", "run", "--model", "m", "--problems", "sample", "--out", "o", "--temperature", "-1"], "'--temperature'"),
    (["eval", "run", "--model", "m", "--problems", "sample", "--out", "o", "--top-p", "5"], "'--top-p'"),
    (["eval", "run", "--model", "m", "--problems", "sample", "--out", "o", "--max-tokens", "0"], "'--max-tokens'"),
    (["corpus", "run", "--year", "2001", "--concurrency", "0"], "'--concurrency'"),
    (["corpus", "run", "--year", "2001", "--max-rounds", "0"], "'--max-rounds'"),
    (["eval", "grade", "in.jsonl", "--out", "o.jsonl", "--workers", "0"], "'--workers'"),
    (["eval", "grade", "in.jsonl", "--out", "o.jsonl", "--timeout", "-1"], "'--timeout'"),
    (["corpus", "run", "--year", "2001", "--years", "2002"], "--year and --years both choose problems"),
    (["corpus", "run", "--problems", "sample-2001-fs-01", "--years", "2002"], "--years and --problems both choose problems"),
    (["corpus", "run", "--year", "2001", "--prompts", "/nonexistent"], "prompt folder not found"),
    (["finetune", "run", "--model", "m", "--data", "d", "--out", "o", "--iters", "0"], "--iters: Input should be greater than 0"),
])
def test_command_line_values_are_validated(samples, run_cli, args, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"gold": "1", "response": "1"}\n')
    r = run_cli(*args, ok=False)
    assert r.exit_code == 2 and fragment in r.output and no_traceback(r.output), r.output


def test_an_empty_prompts_folder_is_refused_and_a_partial_one_is_noted(samples, run_cli, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    r = run_cli("corpus", "run", "--year", "2001", "--prompts", str(tmp_path / "empty"), "--dry-run", ok=False)
    assert r.exit_code == 2 and "no prompt templates here" in r.output
    (tmp_path / "partial").mkdir()
    from distill.prompts import bundled_dir

    (tmp_path / "partial" / "solver_user.md").write_text((bundled_dir() / "solver_user.md").read_text())
    r = run_cli("corpus", "run", "--year", "2001", "--prompts", str(tmp_path / "partial"), "--dry-run")
    assert "the bundled templates are used for those" in r.output and "judge" in r.output


@pytest.mark.parametrize("env, fragment", [
    ({"DISTILL_SOLVR__MODEL": "x"}, "DISTILL_SOLVR__MODEL is not a distill setting"),
    ({"DISTILL_SOLVER__MODLE": "x"}, "DISTILL_SOLVER__MODLE is not a distill setting"),
    ({"DISTILL_SOLVER__BASE_URL": "not a url"}, "is not an http(s) URL"),
    ({"DISTILL_SOLVER__BASE_URL": ""}, "is not an http(s) URL"),
])
def test_bad_environment_settings_are_errors(run_cli, monkeypatch, env, fragment):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    r = run_cli("config", "show", ok=False)
    assert r.exit_code == 2 and fragment in r.output


def test_a_workspace_that_cannot_be_created_is_one_line(run_cli):
    r = run_cli("-w", "/proc/distill-ws", "problems", "import", str(sample_files()[0]), ok=False)
    assert r.exit_code == 2 and "cannot create the workspace folder" in r.output and no_traceback(r.output)


def test_written_files_follow_the_umask(tmp_path):
    import os

    from distill.io import atomic_write_text

    old = os.umask(0o022)
    try:
        import importlib

        import distill.io as dio

        importlib.reload(dio)
        dio.atomic_write_text(tmp_path / "r.md", "x")
    finally:
        os.umask(old)
        importlib.reload(dio)
    assert (tmp_path / "r.md").stat().st_mode & 0o777 == 0o644
    assert atomic_write_text  # the module-level import stays usable


def test_a_student_endpoint_refusing_the_key_stops_eval_run_like_a_teacher_stops_corpus_run(samples, run_cli, monkeypatch):
    """One endpoint client for every role: the same classification, the same one line, the same exit code."""
    with LoopbackServer(lambda body: Reply(status=401)) as srv:
        point_roles(monkeypatch, srv.base_url)
        monkeypatch.setenv("DISTILL_STUDENT__BASE_URL", srv.base_url)
        monkeypatch.setenv("DISTILL_STUDENT__MODEL", "tiny-student")
        teacher = run_cli("corpus", "run", "--year", "2001", "--concurrency", "1", ok=False)
        before = srv.log.count
        student = run_cli("eval", "run", "--endpoint", "student", "--problems", "sample:2003", "--no-judge", "--quiet",
                          "--out", "ev", ok=False)
        student_calls = srv.log.count - before
    assert teacher.exit_code == student.exit_code == 2 and no_traceback(teacher.output + student.output)
    t_line, = [ln for ln in teacher.output.splitlines() if ln.startswith("Error:")]
    s_line, = [ln for ln in student.output.splitlines() if ln.startswith("Error:")]
    assert s_line.startswith(f"Error: student role (tiny-student at {srv.base_url}): the endpoint refused the API key (HTTP 401)")
    assert t_line.startswith(f"Error: solver role (recorded-r1 at {srv.base_url}): the endpoint refused the API key (HTTP 401)")
    assert student_calls <= 8  # stopped at the first refusal, not one failed generation per problem


def test_no_key_for_a_remote_endpoint_is_said_before_any_call(samples, run_cli, monkeypatch, workspace):
    """The default roles point at DeepSeek: without DEEPSEEK_API_KEY the run stops before its first call, saying so."""
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    r = run_cli("corpus", "run", "--year", "2001", ok=False)
    assert r.exit_code == 2 and no_traceback(r.output)
    line, = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert "the solver role needs an API key in $DEEPSEEK_API_KEY" in line
    from distill.corpus.transcripts import TranscriptStore

    assert list(TranscriptStore(workspace / "transcripts").all()) == []  # nothing started


def test_a_bad_url_in_urls_is_one_line_naming_it(samples, run_cli):
    r = run_cli("eval", "run", "--endpoint", "student", "--urls", "http://127.0.0.1:9/v1,ftp://host/v1", "--problems", "sample:2003",
                "--no-judge", "--out", "ev", ok=False)
    assert r.exit_code == 2 and no_traceback(r.output)
    assert "--urls: 'ftp://host/v1' is not an http(s) URL" in r.output
