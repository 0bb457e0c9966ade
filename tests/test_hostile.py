"""Issue 43: hostile input and hostile machines. Every case ends in one line, with the documented exit code
(2: bad input, before any work; 1: work started, what finished is saved), never a traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distill.demo.samples import sample_files

DISTILL = [sys.executable, "-m", "distill.cli"]


def one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) <= 3, result.output  # click's usage hint may precede the one error line
    return result.output


@pytest.fixture
def a_file(tmp_path) -> Path:
    f = tmp_path / "some-file.txt"
    f.write_text("not a folder")
    return f


@pytest.mark.parametrize("args", [
    ("corpus", "export", "--out", "{f}/sub"),
    ("transcripts", "html", "--out", "{f}/sub"),
    ("transcripts", "export", "--out", "{f}/sub/x.jsonl"),
    ("eval", "report", "{f}", "--out", "{f}/sub/r.md"),
    ("eval", "grade", "{f}", "--out", "{f}/sub/g.jsonl"),
    ("finetune", "run", "--model", "m", "--data", "d", "--out", "{f}"),
    ("finetune", "run", "--model", "m", "--data", "d", "--out", "{f}/sub"),
])
def test_an_out_path_under_a_file_is_bad_input(run_cli, a_file, args):
    out = one_line(run_cli(*(a.format(f=a_file) for a in args), ok=False), 2)
    assert "some-file.txt" in out and ("is a file" in out)


def test_the_machine_saying_no_is_one_line(run_cli, monkeypatch, workspace):
    """A refusal met after work started (permission, read-only, no space, too large): exit 1, the path named."""
    import distill.problems.store as store

    for code, words in ((errno.EACCES, "permission denied"), (errno.EROFS, "read-only"), (errno.ENOSPC, "no space left"),
                        (errno.EFBIG, "file too large")):
        def refuse(path, rows, code=code):
            raise OSError(code, os.strerror(code), str(path))

        monkeypatch.setattr(store, "atomic_write_jsonl", refuse)
        out = one_line(run_cli("problems", "import", "--source", "sample", *map(str, sample_files()), ok=False), 1)
        assert words in out and "problems.jsonl" in out and "finished work is saved" in out


def test_sqlite_refusals_are_one_line(run_cli, monkeypatch):
    import sqlite3

    import distill.corpus.transcripts_cli as tc

    def readonly(app):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(tc, "_stores", readonly)
    out = one_line(run_cli("transcripts", "list", ok=False), 1)
    assert "read-only" in out


@pytest.mark.slow
def test_a_full_disk_leaves_no_half_written_file(tmp_path):
    """`ulimit -f` (file size limit, as a full disk refuses a write): the import fails in one line, exit 1, and the
    problem store is what it was before (atomic writes), not a torn file."""
    ws = tmp_path / "ws"
    env = {**os.environ, "DISTILL_WORKSPACE": str(ws)}
    files = list(map(str, sample_files()))
    subprocess.run([*DISTILL, "problems", "import", "--source", "sample", files[0]], env=env, check=True, capture_output=True)
    before = (ws / "problems" / "problems.jsonl").read_bytes()
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"id": f"big-{i}", "text": "x" * 400 + f" problem {i}", "answer": str(i)}) + "\n" for i in range(400)))
    cmd = " ".join([*DISTILL, "problems", "import", "--format", "jsonl", "--source", "big", str(big)])
    r = subprocess.run(["bash", "-c", f"ulimit -f 64; exec {cmd}"], env=env, capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "file too large" in r.stderr
    assert (ws / "problems" / "problems.jsonl").read_bytes() == before


@pytest.mark.parametrize("where", ["distill.toml", "study.toml"])
def test_a_config_of_random_bytes_is_one_line(run_cli, tmp_path, where):
    cfg = tmp_path / where
    cfg.write_bytes(os.urandom(200) + b"\xff\xfe")
    args = ("--config", str(cfg), "config", "show") if where == "distill.toml" else ("study", "status", "--config", str(cfg))
    out = one_line(run_cli(*args, ok=False), 2)
    assert "not UTF-8" in out and where in out


def test_a_lone_surrogate_is_replaced_not_a_crash(run_cli, tmp_path, workspace):
    src = tmp_path / "s.jsonl"
    src.write_text('{"id": "s-1", "text": "What is 2+2? \\ud800 (a lone half)", "answer": "4"}\n'
                   '{"id": "s-2", "text": "An emoji \\ud83d\\ude00 stays", "answer": "1"}\n')
    run_cli("problems", "import", "--format", "jsonl", "--source", "s", str(src))
    rows = [json.loads(line) for line in (workspace / "problems" / "problems.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {r["text"] for r in rows}
    assert any("\ufffd" in t and "lone half" in t for t in texts) and any("\U0001F600" in t for t in texts)


@pytest.mark.parametrize("args, says", [
    (("finetune", "test", "--model", "m", "--data", ".", "--batch-size", "0"), "--batch-size"),
    (("finetune", "test", "--model", "m", "--data", ".", "--max-seq-length", "-1"), "--max-seq-length"),
    (("transcripts", "list", "--offset", "99999999999999999999"), "--offset"),
    (("eval", "run", "--model", "m", "--problems", "x", "--out", "o", "--level", "R42"), "unknown level 'R42'"),
    (("corpus", "levels", "--levels", "R6-R1"), "goes down"),
    (("corpus", "export", "--out", "e", "--prefer", "shorter"), "--prefer is a --format dpo option"),
    (("corpus", "export", "--out", "e", "--pair-form", "formatted"), "--pair-form is a --format dpo option"),
])
def test_numbers_and_names_nobody_checked(run_cli, args, says):
    assert says in one_line(run_cli(*args, ok=False), 2)


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_tokenizer_that_is_not_one(run_cli, tmp_path, kind):
    tok = tmp_path / "tok"
    tok.write_text("x") if kind == "file" else tok.mkdir()
    out = one_line(run_cli("corpus", "export", "--out", str(tmp_path / "e"), "--tokenizer", str(tok), ok=False), 2)
    assert "not a tokenizer" in out


def test_a_workspace_that_is_a_file(run_cli, monkeypatch, a_file):
    monkeypatch.setenv("DISTILL_WORKSPACE", str(a_file))
    out = one_line(run_cli("problems", "list", ok=False), 2)
    assert "a file, not a folder" in out and "DISTILL_WORKSPACE" in out


def test_an_unknown_source_names_the_known_ones(run_cli):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    out = one_line(run_cli("problems", "list", "--source", "nosuch", ok=False), 2)
    assert "unknown source 'nosuch'" in out and "sample" in out


@pytest.mark.slow
def test_two_imports_at_once_keep_both(tmp_path):
    """Two `problems import` processes of different files into one workspace at the same time lose nothing."""
    for attempt in range(3):
        ws = tmp_path / f"ws{attempt}"
        env = {**os.environ, "DISTILL_WORKSPACE": str(ws)}
        files = []
        for name in ("a", "b"):
            f = tmp_path / f"{name}{attempt}.jsonl"
            f.write_text("".join(json.dumps({"id": f"{name}-{i}", "text": f"Problem {name} {i}: add {i} and {i}.", "answer": str(2 * i)}) + "\n"
                                 for i in range(300)))
            files.append(f)
        procs = [subprocess.Popen([*DISTILL, "problems", "import", "--format", "jsonl", "--source", f.stem[0], str(f)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in files]
        assert all(p.wait(timeout=120) == 0 for p in procs)
        lines = (ws / "problems" / "problems.jsonl").read_text().splitlines()
        assert len(lines) == 600, attempt


@pytest.mark.slow
def test_a_second_study_run_of_a_running_study_says_so(tmp_path):
    """The study's run lock held by another process: `study run` exits 2 in one line instead of doing its steps twice."""
    ws = tmp_path / "ws"
    cfg = tmp_path / "study.toml"
    data = Path(sample_files()[0]).parent
    cfg.write_text(f'name = "busy"\n[problems]\npaths = ["{data}"]\nsource = "sample"\n[split]\ntrain_years = "2001"\n'
                   'valid_years = "2002"\ntest_years = "2003"\n[finetune]\nmodel = "mlx-community/Qwen2.5-7B-Instruct-4bit"\n')
    lock = ws / "studies" / "busy" / "run.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", f"import filelock, time; l = filelock.FileLock({str(lock)!r}); l.acquire(); "
                               "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = subprocess.run([*DISTILL, "study", "run", "--config", str(cfg)], env={**os.environ, "DISTILL_WORKSPACE": str(ws)},
                           capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
    assert r.returncode == 2 and "is running in another process" in r.stderr and "Traceback" not in r.stderr
