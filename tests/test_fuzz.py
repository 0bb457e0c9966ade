"""Issue 43: fuzzing as a habit. Random bytes, random JSON values and random unicode through `problems import`,
`eval grade`, the config loader and the JSONL reader: never a traceback, an exit code of 0, 1 or 2, bounded time
(pytest-timeout bounds each test). A small example budget in the fast tier, a larger one in the full tier."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distill.errors import DistillError

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FAST_GRADE = settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FULL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
problem_rows = st.fixed_dictionaries({}, optional={"id": st.text(max_size=12), "text": st.text(max_size=200), "answer": json_values,
                                                   "year": json_values, "source": st.text(max_size=8), "section": json_values})


def invoke(*args: str, env: dict | None = None):
    from distill.cli import cli

    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the fuzz found a bug
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    return result


def _import(content: bytes):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "in.jsonl"
        f.write_bytes(content)
        invoke("problems", "import", "--format", "jsonl", "--source", "fuzz", str(f), env={"DISTILL_WORKSPACE": str(Path(d) / "ws")})


def _grade(rows: list):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "in.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
        invoke("eval", "grade", str(f), "--out", str(Path(d) / "out.jsonl"), "--no-judge", "--workers", "1",
               env={"DISTILL_WORKSPACE": str(Path(d) / "ws")})


def _config(content: bytes):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "distill.toml"
        f.write_bytes(content)
        invoke("--config", str(f), "config", "show", env={"DISTILL_WORKSPACE": str(Path(d) / "ws")})


def _read(content: bytes):
    from distill.io import read_jsonl

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "in.jsonl"
        f.write_bytes(content)
        try:
            list(read_jsonl(f))
        except DistillError:
            pass  # the one error it may raise: a line naming the file


lines_of_json = st.lists(json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=60), max_size=6).map(lambda xs: b"\n".join(xs))
grade_rows = st.lists(st.fixed_dictionaries({"gold": st.text(max_size=30), "response": st.text(max_size=300)}), min_size=1, max_size=4)
toml_bytes = st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))


@FAST
@given(content=st.binary(max_size=300) | lines_of_json | st.lists(problem_rows, max_size=4).map(
    lambda rs: "".join(json.dumps(r) + "\n" for r in rs).encode()))
def test_fuzz_problems_import(content):
    _import(content)


@FAST_GRADE  # each example starts a grader pool: a few here, many in the full tier
@given(rows=grade_rows)
def test_fuzz_eval_grade(rows):
    _grade(rows)


@FAST
@given(content=toml_bytes)
def test_fuzz_config_loader(content):
    _config(content)


@FAST
@given(content=st.binary(max_size=400) | lines_of_json)
def test_fuzz_jsonl_reader(content):
    _read(content)


@pytest.mark.slow
@FULL
@given(content=st.binary(max_size=2000) | lines_of_json | st.lists(problem_rows, max_size=8).map(
    lambda rs: "".join(json.dumps(r) + "\n" for r in rs).encode()))
def test_fuzz_problems_import_full(content):
    _import(content)


@pytest.mark.slow
@FULL
@given(rows=grade_rows)
def test_fuzz_eval_grade_full(rows):
    _grade(rows)


@pytest.mark.slow
@FULL
@given(content=toml_bytes)
def test_fuzz_config_loader_full(content):
    _config(content)


@pytest.mark.slow
@FULL
@given(content=st.binary(max_size=2000) | lines_of_json)
def test_fuzz_jsonl_reader_full(content):
    _read(content)
