from __future__ import annotations

import json

from distill.config import load_settings


def test_defaults_point_at_deepseek(workspace):
    s = load_settings()
    assert s.solver.model == "deepseek-reasoner" and s.verifier.model == "deepseek-chat" and s.judge.model == "deepseek-chat"
    assert s.solver.api_key_env == "DEEPSEEK_API_KEY" and "deepseek.com" in s.solver.base_url


def test_toml_then_env_override_only_named_fields(workspace, monkeypatch):
    (workspace.parent / "distill.toml").write_text('[solver]\nbase_url = "http://127.0.0.1:9/v1"\ntemperature = 0.3\n')
    monkeypatch.setenv("DISTILL_SOLVER__MODEL", "my-r1")
    s = load_settings()
    assert (s.solver.base_url, s.solver.model, s.solver.temperature) == ("http://127.0.0.1:9/v1", "my-r1", 0.3)
    assert s.solver.max_tokens == 16384  # untouched role default survives partial overrides


def test_config_show_masks_the_key(run_cli, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("DEEPSEEK_API_KEY", secret)
    out = run_cli("config", "show", "--json").output
    assert secret not in out and secret[:6] not in out
    data = json.loads(out)
    assert data["solver"]["api_key"].startswith("set") and data["solver"]["api_key_env"] == "DEEPSEEK_API_KEY"
    assert secret not in run_cli("config", "show").output


def test_bad_config_is_one_line(run_cli, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("[judge]\nbogus = 1\n")
    r = run_cli("--config", str(bad), "config", "show", ok=False)
    assert r.exit_code == 2 and "judge.bogus" in r.output and "bad.toml" in r.output
    r = run_cli("--config", str(tmp_path / "missing.toml"), "config", "show", ok=False)
    assert r.exit_code == 2 and "config file not found" in r.output
    monkeypatch.setenv("DISTILL_JUDGE__TEMPERATURE", "hot")
    r = run_cli("config", "show", ok=False)
    assert r.exit_code == 2 and "DISTILL_JUDGE__TEMPERATURE" in r.output


def test_workspace_resolution(tmp_path, run_cli, monkeypatch):
    r = run_cli("--workspace", str(tmp_path / "w2"), "config", "show", "--json")
    assert json.loads(r.output)["workspace"] == str((tmp_path / "w2").resolve())
    monkeypatch.delenv("DISTILL_WORKSPACE")
    r = run_cli("config", "show", "--json")
    assert json.loads(r.output)["workspace"] == str((tmp_path / "workspace").resolve())


def test_every_group_has_help(run_cli):
    top = run_cli("--help").output
    for group in ("problems", "corpus", "transcripts", "finetune", "eval", "demo", "config"):
        assert group in top
        assert "Usage:" in run_cli(group, "--help").output


def test_the_demo_writes_where_the_readme_says(run_cli):
    """`make demo` leaves its report at workspace/demo/studies/demo/report/report.md, as the README says."""
    from pathlib import Path

    out = run_cli("demo", "--help").output
    assert "workspace/demo" in out and "--seed" in out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "`workspace/demo/studies/demo/report/report.md`" in readme
