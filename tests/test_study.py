"""The study pipeline and the offline demo, end to end."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path


from distill.loopback import LoopbackServer
from distill.prompts import bundled_dir
from distill.recorded_teacher import recorded_teacher
from distill.samples import samples_dir

ROOT = Path(__file__).resolve().parents[1]


def test_demo_end_to_end_artefacts_are_consistent(tmp_path, run_cli):
    ws = tmp_path / "demo"
    out = run_cli("demo", "--dir", str(ws)).output
    assert "every stage runs" in out and "report:" in out
    study = ws / "studies" / "demo"
    state = json.loads((study / "state.json").read_text())
    assert state["schema_version"] == 1
    state = state["steps"]
    assert {"import", "corpus", "report"} <= set(state) and all(f"finetune:R{k}" in state for k in range(1, 7))
    report = (study / "report" / "report.md").read_text()
    for name in ("evaluate:base", "evaluate:teacher", "evaluate:tuned:R1"):
        summary = json.loads((Path(state[name]["outputs"]["dir"]) / "summary.json").read_text())
        assert f"{100 * summary['mean']:.2f} ± {100 * summary['std']:.2f}" in report  # the report's numbers are the summaries'
        assert len(summary["runs"]) == 2
    teacher = json.loads((Path(state["evaluate:teacher"]["outputs"]["dir"]) / "summary.json").read_text())
    assert teacher["mean"] > 0.5  # the recorded teacher solves most test problems at its first attempt
    corpus = state["corpus"]["outputs"]
    assert corpus["accepted"] == 15 and corpus["rejected"] == 1 and corpus["model_calls"] > 0
    assert "rejected x1" in report and "differs from the published setup" in report
    for png in ("length_vs_accuracy.png", "accuracy_by_year.png", "per_run_spread.png", "loss_R1.png"):
        assert (study / "report" / png).stat().st_size > 1000, png
    data = json.loads((study / "report" / "study.json").read_text())
    assert data["corpus"]["accepted"] == 15 and data["significance"]["paired"]["bootstrap"]["n"] == 8
    # a rerun does nothing
    again = run_cli("-w", str(ws), "study", "run", "--config", str(ws / "demo.toml"), "--json").stdout
    assert json.loads(again)["ran"] == []


def small_config(tmp_path: Path, base_url: str, model: Path, prompts_dir: Path | None = None) -> Path:
    """study.example.toml, pointed at the samples, a tiny model and a loopback teacher."""
    cfg = tomllib.loads((ROOT / "study.example.toml").read_text())
    lines = [f'name = "{cfg["name"]}"']
    if prompts_dir:
        lines.append(f'prompts_dir = "{prompts_dir}"')
    lines += ["[problems]", f'paths = ["{samples_dir()}"]', 'source = "sample"',
              "[split]", 'train_years = "2001"', 'valid_years = "2002"', 'test_years = "2003"',
              "[corpus]", *(f"{k} = {json.dumps(v)}" for k, v in cfg["corpus"].items()),
              "[levels]", 'train = ["R1", "R3"]', "[finetune]"]
    ft = dict(cfg["finetune"], model=str(model), iters=6, batch_size=2, num_layers=-1, steps_per_eval=3, learning_rate=1e-2)
    lines += [f"{k} = {json.dumps(v)}" for k, v in ft.items()]
    ev = dict(cfg["evaluation"], runs=2, max_tokens=16, math500=False, teacher=False, judge=False, temperature=0.0)
    lines += ["[evaluation]", *(f"{k} = {json.dumps(v)}" for k, v in ev.items())]
    for role in ("solver", "verifier", "judge"):
        values = dict(cfg[role], base_url=base_url, api_key_env="")
        lines += [f"[{role}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    path = tmp_path / "study.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_example_config_runs_resumes_and_redoes_only_what_a_template_change_touches(tmp_path, run_cli, tiny_model):
    with LoopbackServer(recorded_teacher) as srv:
        cfg = small_config(tmp_path, srv.base_url, tiny_model)
        first = json.loads(run_cli("study", "run", "--config", str(cfg), "--until", "export", "--json").stdout)
        assert first["ran"] == ["import", "corpus", "levels:R1", "levels:R3", "export:R1", "export:R3"]
        status = {r["key"]: r["status"] for r in json.loads(run_cli("study", "status", "--config", str(cfg), "--json").stdout)}
        assert status["export:R3"] == "done" and status["finetune:R1"] == "pending" and status["report"] == "pending"
        rest = json.loads(run_cli("study", "run", "--config", str(cfg), "--json").stdout)
        assert rest["skipped"][:2] == ["import", "corpus"] and rest["ran"][-1] == "report" and "finetune:R3" in rest["ran"]
        # edit one level template: only R3's levels, export, finetune, evaluation and the report are redone
        prompts = tmp_path / "prompts"
        shutil.copytree(bundled_dir(), prompts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        r3 = prompts / "levels" / "r3.md"
        r3.write_text(r3.read_text().replace("Merge small steps", "Merge the small steps"))
        cfg2 = small_config(tmp_path, srv.base_url, tiny_model, prompts_dir=prompts)
        status = {r["key"]: r["status"] for r in json.loads(run_cli("study", "status", "--config", str(cfg2), "--json").stdout)}
        assert {k for k, v in status.items() if v == "stale"} == {"levels:R3", "export:R3", "finetune:R3", "evaluate:tuned:R3", "report"}
        redo = json.loads(run_cli("study", "run", "--config", str(cfg2), "--json").stdout)
    assert redo["ran"] == ["levels:R3", "export:R3", "finetune:R3", "evaluate:tuned:R3", "report"]


def test_study_config_errors_are_one_line(tmp_path, run_cli):
    bad = tmp_path / "s.toml"
    bad.write_text('name = "x"\n[problems]\npaths = []\n[split]\ntrain_years = "2001"\n')
    r = run_cli("study", "run", "--config", str(bad), ok=False)
    assert r.exit_code == 2 and "s.toml" in r.output and re.search(r"split\.valid_years|finetune", r.output)
    bad.write_text('name = "x"\n[problems]\n[split]\ntrain_years="1"\nvalid_years="2"\ntest_years="3"\n[finetune]\niters = 5\n')
    r = run_cli("study", "run", "--config", str(bad), ok=False)
    assert r.exit_code == 2 and "[finetune] needs model" in r.output


def test_only_a_step_whose_inputs_are_missing_is_a_clear_error(tmp_path, run_cli, tiny_model):
    cfg = small_config(tmp_path, "http://127.0.0.1:9/v1", tiny_model)
    r = run_cli("study", "run", "--config", str(cfg), "--only", "finetune", ok=False)
    assert r.exit_code == 2 and "step export:R1 has not run yet" in r.output
    r = run_cli("study", "run", "--config", str(cfg), "--only", "corpus", ok=False)
    assert r.exit_code == 2 and "run the import step" in r.output
