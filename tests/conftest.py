from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("MLX_DISABLE_COMPILE", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    monkeypatch.setenv("DISTILL_WORKSPACE", str(ws))
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("DISTILL_") and key != "DISTILL_WORKSPACE":
            monkeypatch.delenv(key)
    return ws


@pytest.fixture
def run_cli(workspace: Path):
    """Invoke `distill ...` in-process; returns the click Result."""
    from distill.cli import cli

    runner = CliRunner()

    def _run(*args: str, ok: bool = True, **kw):
        result = runner.invoke(cli, list(args), catch_exceptions=False, **kw)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return _run


@pytest.fixture
def recorded_corpus(run_cli, monkeypatch, workspace):
    """The bundled sample problems of 2001-2002 run by the recorded teacher; the teacher stays up while the
    test (or a fixture on top of this one) runs more commands against it."""
    from distill.demo.loopback import LoopbackServer
    from distill.demo.recorded_teacher import RecordedTeacher, role_settings
    from distill.demo.samples import sample_files

    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    with LoopbackServer(RecordedTeacher()) as srv:
        for role, values in role_settings(srv.base_url).items():
            for k, v in values.items():
                monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        run_cli("corpus", "run", "--years", "2001-2002", "--quiet")
        yield workspace


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Qwen2 built in the test session (no download)."""
    from distill.demo.tiny import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def chat_data(tmp_path_factory) -> Path:
    from distill.demo.fixtures import write_chat_splits

    return write_chat_splits(tmp_path_factory.mktemp("chat") / "data")


@pytest.fixture(scope="session")
def interrupted_demo(tmp_path_factory):
    """`distill demo` interrupted once it has trained a level, then run again to the end: (folder, the
    interrupted run, the finishing run, the steps done before the interrupt). One demo for the tests
    that need a finished one."""
    import json

    from .procs import env_for, interrupt, run

    demo = tmp_path_factory.mktemp("demo") / "demo"
    env = env_for(demo.parent / "unused")
    state = demo / "studies" / "demo" / "state.json"
    first = interrupt(["demo", "--dir", str(demo)], env, after=25, when=lambda: state.exists() and "finetune:R1" in state.read_text())
    done = json.loads(state.read_text())["steps"]
    resumed = run(["demo", "--dir", str(demo)], env)
    return demo, first, resumed, done
