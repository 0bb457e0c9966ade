"""The study pipeline and the offline demo, end to end."""

from __future__ import annotations

import json
import re
import shutil
import tomllib

import pytest
from pathlib import Path

from distill.demo.loopback import LoopbackServer
from distill.demo.recorded_teacher import recorded_teacher, role_settings
from distill.demo.samples import samples_dir
from distill.prompts import bundled_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_end_to_end_artefacts_are_consistent(interrupted_demo, run_cli):
    ws, _, resumed, _ = interrupted_demo  # a demo that was interrupted once and finished on its rerun
    out = resumed.stdout
    assert "what it learned from the teacher" in out and "report:" in out
    study = ws / "studies" / "demo"
    state = json.loads((study / "state.json").read_text())
    assert state["schema_version"] == 1
    state = state["steps"]
    assert list(state)[0] == "import" and list(state)[-1] == "report"  # recorded in plan order, whichever worker finished first
    assert {"import", "corpus", "report", "finetune:conditioned"} <= set(state) and all(f"finetune:R{k}" in state for k in (1, 3, 6))
    report = (study / "report" / "report.md").read_text()
    for name in ("evaluate:base", "evaluate:teacher", "evaluate:tuned:R1"):
        summary = json.loads((Path(state[name]["outputs"]["dir"]) / "summary.json").read_text())
        assert f"{100 * summary['mean']:.2f} ± {100 * summary['std']:.2f}" in report  # the report's numbers are the summaries'
        assert len(summary["runs"]) == 2 and summary["n_problems"] >= 30  # a held-out year large enough for a rate
    teacher = json.loads((Path(state["evaluate:teacher"]["outputs"]["dir"]) / "summary.json").read_text())
    assert teacher["mean"] > 0.5  # the recorded teacher solves most test problems at its first attempt
    corpus = state["corpus"]["outputs"]
    assert corpus["accepted"] >= 200 and corpus["rejected"] >= 1 and corpus["model_calls"] > 0
    assert "differs from the published setup" in report
    for png in ("distillation.png", "frontier.png", "length_vs_accuracy.png", "accuracy_by_year.png", "per_run_spread.png", "loss_R1.png"):
        assert (study / "report" / png).stat().st_size > 1000, png
    data = json.loads((study / "report" / "study.json").read_text())
    from distill.study.records import StudyResult

    result = StudyResult.model_validate(data)
    assert result.evaluations["evaluate:teacher"].mean == teacher["mean"]  # read back as its record
    assert [f"{x['a']} vs {x['b']}" for x in data["significance"]][-1] == "tuned-R6 vs tuned-R1" and len(data["significance"]) == 5
    assert_figures_readable(study / "report")
    # issue 29's bar: the student visibly learns the teacher's form and each level's length
    ev = result.evaluations
    tuned = [ev[f"evaluate:tuned:R{k}"] for k in (1, 3, 6)]
    assert sum(s.answer_format_rate for s in tuned) / 3 >= 0.8 and min(s.answer_format_rate for s in tuned) >= 0.5
    assert ev["evaluate:base"].answer_format_rate <= 0.1 and max(s.truncated_rate for s in tuned) <= 0.2
    words = [data["levels"][f"R{k}"]["mean_words"] for k in range(1, 7)]
    assert all(a > b for a, b in zip(words, words[1:])), words  # training texts fall strictly R1 -> R6
    assert result.distillation is not None and result.distillation.length_spearman >= 0.8
    # issue 39's bar: one length-conditioned student follows the asked level
    dial = result.distillation.conditioned
    assert [r.level for r in dial] == [f"R{k}" for k in range(1, 7)] and result.distillation.conditioned_spearman >= 0.9
    assert all(abs(r.response_words - r.training_words) <= 0.2 * r.training_words for r in dial), [(r.level, r.response_words) for r in dial]
    assert all(r.answer_format_rate >= 0.8 for r in dial)
    assert all(ev[f"evaluate:conditioned:R{k}"].prompt_levels for k in range(1, 7)) and not ev["evaluate:tuned:R1"].prompt_levels
    assert "| one student asked for R3 |" in report and "## Accuracy per token" in report and "tokens per correct" in report
    assert {r.name for r in result.cost} >= {"base", "teacher", "tuned R1", "conditioned, asked R6"}
    # the first screen says it, from these numbers
    first = report.index("## What the distillation bought")
    assert first < report.index("## Headline") and "| tuned on R6 |" in report and "Spearman" in report
    assert f"{100 * result.distillation.tuned_format_mean:.1f}%" in report
    for lv in ("R1", "R3", "R6", "conditioned"):
        ft = state[f"finetune:{lv}"]["outputs"]
        assert ft["best_val_loss"] < ft["base_val_loss"], lv
    # a rerun does nothing
    again = run_cli("-w", str(ws), "study", "run", "--config", str(ws / "demo.toml"), "--json").stdout
    assert json.loads(again)["ran"] == []


@pytest.mark.slow
def test_jobs_1_gives_what_jobs_2_gave(tmp_path):
    """Fine-tunes and evaluations in 2 workers give the same exports, adapters (sha256) and evaluation
    results as one at a time. (Both demos run uninterrupted: a fine-tune resumed from a checkpoint
    is not bit-identical to one that ran through.)"""
    import hashlib

    from .procs import env_for, run

    ws1, ws2 = tmp_path / "jobs1", tmp_path / "jobs2"
    # without the conditioned student: its 500 iterations would triple the test's time and test nothing more here
    run(["demo", "--dir", str(ws2), "--jobs", "2", "--no-dial"], env_for(tmp_path / "unused"))
    run(["demo", "--dir", str(ws1), "--jobs", "1", "--no-dial"], env_for(tmp_path / "unused"))
    s1 = json.loads((ws1 / "studies" / "demo" / "state.json").read_text())["steps"]
    s2 = json.loads((ws2 / "studies" / "demo" / "state.json").read_text())["steps"]
    assert list(s1) == list(s2)

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for key in s1:
        a, b = s1[key]["outputs"], s2[key]["outputs"]
        if key.startswith("export:"):
            for name in ("train.jsonl", "valid.jsonl"):
                assert digest(Path(a["dir"]) / name) == digest(Path(b["dir"]) / name), (key, name)
        elif key.startswith("finetune:"):
            assert digest(Path(a["dir"]) / "adapters.safetensors") == digest(Path(b["dir"]) / "adapters.safetensors"), key
            assert a["best_val_loss"] == b["best_val_loss"] and a["best_iteration"] == b["best_iteration"]
        elif key.startswith("evaluate:"):
            def rows(folder: str) -> list:  # a verdict's elapsed_ms is a timing, the one field no two runs share
                return [(r["problem_id"], r["run"], r["response"], {k: v for k, v in r["verdict"].items() if k != "elapsed_ms"})
                        for r in map(json.loads, (Path(folder) / "responses.jsonl").read_text().splitlines())]

            r1, r2 = rows(a["dir"]), rows(b["dir"])
            assert sorted(r1, key=str) == sorted(r2, key=str), key
            assert (a["mean"], a["std"]) == (b["mean"], b["std"]), key
    d1 = json.loads((ws1 / "studies" / "demo" / "report" / "study.json").read_text())["distillation"]
    d2 = json.loads((ws2 / "studies" / "demo" / "report" / "study.json").read_text())["distillation"]
    assert d1 == d2


def _overlap(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def assert_figures_readable(folder: Path) -> None:
    """Every report figure: a title naming what it shows, both axes labelled, no label on top of another."""
    described = sorted(folder.glob("*.json"))
    names = {p.stem for p in described}
    assert {"length_vs_accuracy", "accuracy_by_year", "per_run_spread", "val_loss_by_level"} <= names, names
    for path in described:
        if path.name == "study.json":
            continue
        for ax in json.loads(path.read_text())["axes"]:
            assert ax["title"] and ax["xlabel"] and ax["ylabel"], path.name
            boxes = [lb["bbox"] for lb in ax["labels"]]
            assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), path.name
    titles = {p.stem: json.loads(p.read_text())["axes"][0]["title"] for p in described if p.name != "study.json"}
    assert "R1..R6" in titles["length_vs_accuracy"] and "teacher" in titles["accuracy_by_year"] and "Validation loss per level" in titles["val_loss_by_level"]


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
        values = dict(cfg[role], **role_settings(base_url)[role])
        lines += [f"[{role}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    path = tmp_path / "study.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
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
        assert {k for k, v in status.items() if v == "stale"} == {"levels:R3", "export:R3", "finetune:R3", "evaluate:tuned:R3", "grade:tuned:R3", "report"}
        redo = json.loads(run_cli("study", "run", "--config", str(cfg2), "--json").stdout)
    assert redo["ran"] == ["levels:R3", "export:R3", "finetune:R3", "evaluate:tuned:R3", "grade:tuned:R3", "report"]


def test_study_config_errors_are_one_line(tmp_path, run_cli):
    bad = tmp_path / "s.toml"
    bad.write_text('name = "x"\n[problems]\npaths = []\n[split]\ntrain_years = "2001"\n')
    r = run_cli("study", "run", "--config", str(bad), ok=False)
    assert r.exit_code == 2 and "s.toml" in r.output and re.search(r"\[split\] valid_years|finetune", r.output)
    bad.write_text('name = "x"\n[problems]\n[split]\ntrain_years="1"\nvalid_years="2"\ntest_years="3"\n[finetune]\niters = 5\n')
    r = run_cli("study", "run", "--config", str(bad), ok=False)
    assert r.exit_code == 2 and "[finetune] model: required" in r.output


@pytest.mark.parametrize("edit, fragment", [
    (("iters = 6", "itres = 3"), "[finetune] itres: unknown setting"),
    (('train_years = "2001"', 'train_years = "2030-2011"'), "[split] train_years: year range '2030-2011' runs backwards"),
    (('test_years = "2003"', 'test_years = "2001"'), "train_years and test_years share 2001"),
    (("[corpus]", "[corpus]\nconcurency = 3"), "[corpus] concurency: unknown setting"),
    (("runs = 2", "runs = 0"), "[evaluation] runs: Input should be greater than or equal to 1"),
    (('train = ["R1", "R3"]', 'train = ["R1", "R9"]'), "unknown level 'R9'"),
    (("[finetune]", "[finetune]\nlora_dropout = 2"), "[finetune] lora_dropout: Input should be less than 1"),
])
def test_a_bad_study_config_fails_fast_naming_the_key(tmp_path, run_cli, tiny_model, edit, fragment):
    """Before any step: no import, no API call, no workspace write."""
    cfg = small_config(tmp_path, "http://127.0.0.1:9/v1", tiny_model)
    text = cfg.read_text()
    assert edit[0] in text
    cfg.write_text(text.replace(edit[0], edit[1], 1))
    r = run_cli("study", "run", "--config", str(cfg), ok=False)
    assert r.exit_code == 2 and fragment in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "ws" / "studies").exists()


def test_a_model_path_that_does_not_resolve_is_refused(tmp_path, run_cli):
    cfg = small_config(tmp_path, "http://127.0.0.1:9/v1", tmp_path / "no-such-model")
    r = run_cli("study", "run", "--config", str(cfg), ok=False)
    assert r.exit_code == 2 and "[finetune] model:" in r.output and "does not exist" in r.output


def _stale_after(tmp_path, tiny_model, change) -> set[str]:
    """Record every step of a study as done, apply `change`, and return the keys that became stale."""
    from distill.study.runner import Study, load_study_config
    from distill.workspace import Workspace

    prompts = tmp_path / "prompts"
    shutil.copytree(bundled_dir(), prompts)
    cfg_path = small_config(tmp_path, "http://127.0.0.1:9/v1", tiny_model, prompts_dir=prompts)
    cfg_path.write_text(cfg_path.read_text().replace("judge = false", "judge = true"))
    ws = Workspace(tmp_path / "ws").ensure()
    study = Study(*load_study_config(cfg_path), ws, log=lambda _: None)
    for _, key, fp, _ in study.plan():
        study._record(key, fp, {})
    assert {r.status for r in study.status()} == {"done"}
    change(prompts)
    study = Study(*load_study_config(cfg_path), ws, log=lambda _: None)
    return {r.key for r in study.status() if r.status == "stale"}


def test_editing_the_judge_template_marks_exactly_the_grade_steps_and_the_report_stale(tmp_path, tiny_model):
    """Issue 37: the judge decides verdicts, not generations: the evaluations are regraded, never regenerated."""
    def edit(prompts):
        (prompts / "judge.md").write_text((prompts / "judge.md").read_text() + "\nBe strict about units.\n")

    stale = _stale_after(tmp_path, tiny_model, edit)
    assert stale == {"grade:base", "grade:tuned:R1", "grade:tuned:R3", "report"}


def test_a_grader_code_change_marks_exactly_the_grade_steps_and_the_report_stale(tmp_path, tiny_model, monkeypatch):
    import distill.grading.version as version

    stale = _stale_after(tmp_path, tiny_model, lambda _: monkeypatch.setattr(version, "grader_version", lambda: "changed-rules"))
    assert stale == {"grade:base", "grade:tuned:R1", "grade:tuned:R3", "report"}


def test_only_a_step_whose_inputs_are_missing_is_a_clear_error(tmp_path, run_cli, tiny_model):
    cfg = small_config(tmp_path, "http://127.0.0.1:9/v1", tiny_model)
    r = run_cli("study", "run", "--config", str(cfg), "--only", "finetune", ok=False)
    assert r.exit_code == 2 and "--only finetune needs the steps before it" in r.output and "export:R1" in r.output
    r = run_cli("study", "run", "--config", str(cfg), "--only", "corpus", ok=False)
    assert r.exit_code == 2 and "not done: import" in r.output
    r = run_cli("study", "run", "--config", str(cfg), "--only", "report", ok=False)
    assert r.exit_code == 2 and "--only report needs" in r.output and "and 9 more" in r.output
    assert not (tmp_path / "ws" / "studies").exists()


@pytest.mark.slow
def test_demo_and_study_run(interrupted_demo):
    """Ctrl-C in `distill demo` and in `study run`: exit 130, one line, and the rerun redoes nothing finished."""
    from .procs import assert_clean_interrupt, env_for, interrupt, run

    demo, first, resumed, done = interrupted_demo
    assert_clean_interrupt(first)
    assert "corpus" in done
    assert f"({len(done)} already done)" in resumed.stdout  # the same teacher port and model: nothing finished is redone
    # `study run` on the demo's config: forget the evaluations, interrupt their redo, and resume it
    from distill.demo.cli import _start_teacher

    state_path = demo / "studies" / "demo" / "state.json"
    st = json.loads(state_path.read_text())
    st["steps"] = {k: v for k, v in st["steps"].items() if not k.startswith(("evaluate", "report"))}
    state_path.write_text(json.dumps(st))
    for folder in ("evaluations", "report"):  # so the redo has real work to be interrupted in
        shutil.rmtree(demo / "studies" / "demo" / folder, ignore_errors=True)
    study_env = env_for(demo)
    teacher = _start_teacher(demo.resolve())  # the port the demo's config names
    try:
        assert_clean_interrupt(interrupt(["study", "run", "--config", str(demo / "demo.toml")], study_env, after=10,
                                         when=lambda: "evaluate:base" in state_path.read_text()))
        part = set(json.loads(state_path.read_text())["steps"])
        again = json.loads(run(["study", "run", "--config", str(demo / "demo.toml"), "--json"], study_env).stdout)
    finally:
        teacher.stop()
    assert set(again["skipped"]) == part and again["ran"][-1] == "report"


def test_formatted_pairs_add_a_rewrites_step_and_leave_the_solver_plan_as_it_was(tmp_path, tiny_model):
    from distill.study.runner import Study, load_study_config
    from distill.workspace import Workspace

    def plan(extra: str):
        cfg = small_config(tmp_path, "http://127.0.0.1:9/v1", tiny_model)
        cfg.write_text(cfg.read_text() + "[preference]\nlevel = \"R1\"\n" + extra)
        study = Study(*load_study_config(cfg), Workspace(tmp_path / "ws"), log=lambda _: None)
        steps = study.plan()
        return study, {k: fp for _, k, fp, _ in steps}, [k for _, k, _, _ in steps]

    _, default, _ = plan("")
    _, solver, _ = plan('pair_form = "solver"\n')
    study, formatted, order = plan('pair_form = "formatted"\n')
    assert solver == default and "rewrites" not in default  # naming the default changes no fingerprint
    assert order.index("corpus") < order.index("rewrites") < order.index("export:dpo")
    assert study.needs("export:dpo", order) == ("corpus", "rewrites") and study.needs("rewrites", order) == ("corpus",)
    changed = {k for k in formatted if formatted.get(k) != default.get(k)}
    assert changed == {"rewrites", "export:dpo", "finetune:R1+dpo", "evaluate:tuned:R1+dpo", "grade:tuned:R1+dpo", "report"}


@pytest.mark.slow
@pytest.mark.parametrize("pair_form", ["solver", "formatted"])
def test_preference_and_rl_steps_train_on_the_sft_adapter_and_are_compared_in_the_report(tmp_path, run_cli, tiny_model, pair_form):
    with LoopbackServer(recorded_teacher) as srv:
        cfg = small_config(tmp_path, srv.base_url, tiny_model)
        # 2003 holds the problems the teacher first gets wrong: validate on it, so both splits have rejected rounds
        text = cfg.read_text().replace('train = ["R1", "R3"]', 'train = ["R1"]').replace('valid_years = "2002"', 'valid_years = "2003"')
        cfg.write_text(text.replace('test_years = "2003"', 'test_years = "2002"')
                       + f"[preference]\nlevel = \"R1\"\niters = 4\nbatch_size = 1\nlearning_rate = 0.001\npair_form = \"{pair_form}\"\n"
                       + "[rl]\nlevel = \"R1\"\niters = 2\nbatch_size = 1\ngroup_size = 2\nmax_completion_length = 8\n")
        ran = json.loads(run_cli("-w", str(tmp_path / "ws"), "study", "run", "--config", str(cfg), "--json").stdout)["ran"]
    assert ran.index("finetune:R1") < ran.index("finetune:R1+dpo") < ran.index("evaluate:tuned:R1+dpo") < ran.index("report")
    study = tmp_path / "ws" / "studies" / tomllib.loads(cfg.read_text())["name"]
    state = json.loads((study / "state.json").read_text())["steps"]
    manifest = json.loads((Path(state["export:dpo"]["outputs"]["dir"]) / "manifest.json").read_text())
    assert manifest["pairs"]["rounds"] > 0 and manifest["pair_form"] == pair_form  # the rejected rounds against the accepted answers
    if pair_form == "formatted":  # the rejected rounds rewritten first, each keeping its wrong answer
        assert ran.index("corpus") < ran.index("rewrites") < ran.index("export:dpo")
        assert state["rewrites"]["outputs"]["ok"] >= manifest["pairs"]["rounds"]
    else:
        assert "rewrites" not in ran
    dpo = json.loads((Path(state["finetune:R1+dpo"]["outputs"]["dir"]) / "summary.json").read_text())
    assert dpo["method"] == "dpo" and dpo["preference"]["accuracy_before"] is not None
    cfg_args = json.loads((Path(state["finetune:R1+dpo"]["outputs"]["dir"]) / "finetune_config.json").read_text())["args"]
    assert cfg_args["adapter"] == state["finetune:R1"]["outputs"]["dir"]  # on top of the SFT adapter
    report = (study / "report" / "report.md").read_text()
    assert "tuned-R1+dpo" in report
    result = json.loads((study / "report" / "study.json").read_text())
    assert ("tuned-R1", "tuned-R1+dpo") in [(x["a"], x["b"]) for x in result["significance"]]  # compared beside its SFT adapter
    # GRPO: on the training years' problems, validated on the validation years, from the same SFT adapter
    assert ran.index("finetune:R1") < ran.index("finetune:R1+grpo") < ran.index("evaluate:tuned:R1+grpo")
    rl_dir = Path(state["finetune:R1+grpo"]["outputs"]["dir"])
    grpo = json.loads((rl_dir / "summary.json").read_text())
    assert grpo["method"] == "grpo" and grpo["reward"]["rewards"] == ["correct"] and grpo["reward"]["valid_before"] is not None
    years = {json.loads(x)["id"].split("-")[1] for x in (rl_dir / "prompts" / "valid.jsonl").read_text().splitlines()}
    assert years == {"2003"}
    assert "tuned-R1+grpo" in report and ("tuned-R1", "tuned-R1+grpo") in [(x["a"], x["b"]) for x in result["significance"]]


@pytest.mark.slow
def test_a_copied_demo_redoes_nothing_and_finds_its_calls_cached(interrupted_demo, tmp_path):
    """Issue 44: a finished demo copied to another folder reruns 0 steps with 0 model calls, and its status shows every
    step done; with the corpus step's record removed, the corpus runs again from the model-call cache alone (the
    loopback teacher's random port is not in the cache key)."""
    import json
    import shutil

    from .procs import env_for, run

    demo = interrupted_demo[0]
    copy = tmp_path / "moved" / "demo"
    shutil.copytree(demo, copy)
    env = env_for(tmp_path / "unused")
    again = run(["demo", "--dir", str(copy)], env)
    assert "0 steps ran" in again.stdout, again.stdout
    status = run(["-w", str(copy), "study", "status", "--config", str(copy / "demo.toml"), "--json"], env)
    rows = json.loads(status.stdout)
    assert rows and all(r["status"] == "done" for r in rows)
    from distill.study.runner import Study, load_study_config
    from distill.workspace import Workspace

    moved = Study(*load_study_config(copy / "demo.toml"), Workspace(copy), log=lambda _: None)
    dirs = [rec.outputs["dir"] for rec in moved.state().steps.values() if "dir" in rec.outputs]
    assert dirs and all(d.startswith(str(copy)) for d in dirs)  # the outputs are read where the copy holds them
    state_path = copy / "studies" / "demo" / "state.json"
    state = json.loads(state_path.read_text())
    del state["steps"]["corpus"]
    state_path.write_text(json.dumps(state))
    shutil.rmtree(copy / "transcripts")
    run(["demo", "--dir", str(copy)], env)
    corpus = json.loads(state_path.read_text())["steps"]["corpus"]["outputs"]
    assert corpus["model_calls"] == 0 and corpus["cached"] > 0
