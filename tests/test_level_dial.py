"""Length as a dial: `--level all` (one length-conditioned student: every level, each asked for in the prompt),
`--level mix:...` (each problem at one level, drawn by shares with the seed), and their records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from distill.corpus.level_mix import LevelSpec, assign_levels, parse_level_spec
from distill.errors import DistillError


@pytest.mark.parametrize("spec,text", [("all", "all"), ("ALL", "all"), ("r3", "R3"), ("trace", "trace"),
                                       ("mix:R1=0.5,R6=0.5", "mix:R1=0.5,R6=0.5"), ("mix: r1=0.25, r3=0.25 ,R6=0.5", "mix:R1=0.25,R3=0.25,R6=0.5")])
def test_level_specs(spec, text):
    assert parse_level_spec(spec).text == text


@pytest.mark.parametrize("spec,why", [("mix:R1=0.5,R6=0.4", "add up to 0.9"), ("mix:R1=0.5,R1=0.5", "each level once"),
                                      ("mix:R7=1", "expected mix:"), ("mix:R1=half,R6=0.5", "not a number"), ("R9", "expected R1..R6"),
                                      ("mix:R1=0,R6=1", "above 0")])
def test_level_specs_refused(spec, why):
    with pytest.raises(DistillError, match=why):
        parse_level_spec(spec)


@pytest.mark.parametrize("n", [1, 7, 10, 33, 101])
@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.2, 0.3, 0.5), (1 / 3, 1 / 3, 1 / 3)])
def test_a_mix_draws_each_share_within_one_problem_and_by_its_seed(n, shares):
    spec = LevelSpec("mix", tuple(f"R{i + 1}" for i in range(len(shares))), shares)
    ids = [f"p{i:03d}" for i in range(n)]
    a = assign_levels(ids, spec, seed=3)
    counts = Counter(a.values())
    assert set(a) == set(ids) and sum(counts.values()) == n
    assert all(abs(counts[lv] - s * n) < 1 for lv, s in zip(spec.levels, shares))
    assert assign_levels(list(reversed(ids)), spec, seed=3) == a  # the input order does not matter, the seed does
    if n >= 10:
        assert assign_levels(ids, spec, seed=4) != a


@pytest.mark.slow
def test_conditioned_and_mixed_exports_of_the_recorded_corpus(recorded_corpus, run_cli, tmp_path):
    run_cli("corpus", "levels", "--years", "2001-2002", "--quiet")
    one = json.loads(run_cli("corpus", "export", "--out", str(tmp_path / "r3"), "--level", "R3", "--valid-years", "2002", "--json").stdout)
    allx = json.loads(run_cli("corpus", "export", "--out", str(tmp_path / "all"), "--level", "all", "--valid-years", "2002", "--json").stdout)
    assert allx["conditioned"] and allx["level"] == "all"
    rows = [json.loads(line) for line in (tmp_path / "all" / "train.jsonl").read_text().splitlines()]
    by_level = Counter()
    for r in rows:
        user = r["messages"][1]["content"]
        lv = user.split("Answer at length level ")[1].split(":")[0]
        by_level[lv] += 1
    assert set(by_level) == {f"R{i}" for i in range(1, 7)} and by_level == Counter(allx["level_rows"]["train"])
    assert by_level["R3"] == one["counts"]["train"]  # every problem R3 exports, at R3, among the others
    assert allx["level_mean_words"]["R1"] > allx["level_mean_words"]["R6"]
    plain = [json.loads(line) for line in (tmp_path / "r3" / "train.jsonl").read_text().splitlines()]
    assert all("Answer at length level" not in r["messages"][1]["content"] for r in plain)  # a single level's prompt is unchanged
    m1 = json.loads(run_cli("corpus", "export", "--out", str(tmp_path / "mix"), "--level", "mix:R1=0.5,R6=0.5", "--valid-years", "2002",
                            "--seed", "7", "--json").stdout)
    m2 = json.loads(run_cli("corpus", "export", "--out", str(tmp_path / "mix2"), "--level", "mix:R1=0.5,R6=0.5", "--valid-years", "2002",
                            "--seed", "7", "--json").stdout)
    assert m1["mix"] == {"R1": 0.5, "R6": 0.5} and m1["mix_assigned"] == m2["mix_assigned"]
    assert (tmp_path / "mix" / "train.jsonl").read_bytes() == (tmp_path / "mix2" / "train.jsonl").read_bytes()
    drawn = sum(m1["mix_assigned"].values())
    assert all(abs(n - drawn / 2) <= 1 for n in m1["mix_assigned"].values())
    assert set(m1["level_rows"]["train"]) == {"R1", "R6"}
    # an adapter trained on the `all` export is asked for its level by `eval run`; one trained on R3 is not
    from distill.evaluation.cli import conditioned_adapter

    for name, asked in (("all", True), ("r3", False)):
        adapter = tmp_path / f"adapter-{name}"
        adapter.mkdir()
        (adapter / "finetune_config.json").write_text(json.dumps({"args": {"data": str(tmp_path / name)}}))
        assert conditioned_adapter(adapter) is asked
    assert not conditioned_adapter(None) and not conditioned_adapter(tmp_path / "nowhere")
    r = run_cli("corpus", "export", "--out", str(tmp_path / "bad"), "--level", "mix:R1=0.7,R6=0.5", ok=False)
    assert r.exit_code == 2 and "add up to 1.2" in r.output


def _study(tmp_path, tiny_model, base_url: str, extra: str):
    from distill.study.runner import Study, load_study_config
    from distill.workspace import Workspace
    from tests.test_study import small_config

    cfg = small_config(tmp_path, base_url, tiny_model)
    cfg.write_text(cfg.read_text().replace('train = ["R1", "R3"]', 'train = ["R1", "R3"]\n' + extra))
    return cfg, Study(*load_study_config(cfg), Workspace(tmp_path / "ws"), log=lambda _: None)


def test_the_study_plans_a_conditioned_student_and_mixes_beside_the_per_level_ones(tmp_path, tiny_model):
    _, plain = _study(tmp_path, tiny_model, "http://127.0.0.1:9/v1", "")
    cfg, study = _study(tmp_path, tiny_model, "http://127.0.0.1:9/v1",
                        'conditioned = true\nconditioned_finetune = {iters = 9}\nmixes = ["R1=0.5,R3=0.5"]\n')
    before = {k: fp for _, k, fp, _ in plain.plan()}
    steps = {k: (fp, inputs) for _, k, fp, inputs in study.plan()}
    order = [k for _, k, _, _ in study.plan()]
    assert {f"levels:R{i}" for i in range(1, 7)} <= set(steps)  # the conditioned student needs every level's texts
    assert {"export:conditioned", "finetune:conditioned", "export:mix-R1_50-R3_50", "finetune:mix-R1_50-R3_50",
            "evaluate:tuned:mix-R1_50-R3_50"} <= set(steps)
    assert [k for k in order if k.startswith("evaluate:conditioned:")] == [f"evaluate:conditioned:R{i}" for i in range(1, 7)]
    assert set(study.needs("export:conditioned", order)) == {f"levels:R{i}" for i in range(1, 7)}
    assert study.needs("export:mix-R1_50-R3_50", order) == ("levels:R1", "levels:R3")
    assert study.needs("evaluate:conditioned:R4", order) == ("finetune:conditioned",)
    # the per-level students' steps keep their fingerprints: adding students redoes none of them
    assert all(steps[k][0] == fp for k, fp in before.items() if k != "report")
    assert study.extra_students() == {"conditioned": "all", "mix-R1_50-R3_50": "mix:R1=0.5,R3=0.5"}
    study.preview_import()  # the problem files read, not imported
    _, base = study.eval_request(steps["evaluate:base"][0], "base")
    assert not base.prompt_levels


@pytest.mark.parametrize("extra,why", [('mixes = ["R1=0.5,R3=0.6"]', "add up to 1.1"), ("conditioned_finetune = {iterz = 3}", "iterz"),
                                       ("conditioned_finetune = {iters = 0}", "iters")])
def test_bad_dial_settings_name_the_key(tmp_path, tiny_model, run_cli, extra, why):
    from tests.test_study import small_config

    cfg = small_config(tmp_path, "http://127.0.0.1:9/v1", tiny_model)
    cfg.write_text(cfg.read_text().replace('train = ["R1", "R3"]', 'train = ["R1", "R3"]\n' + extra))
    r = run_cli("study", "status", "--config", str(cfg), ok=False)
    assert r.exit_code == 2 and why in r.output and "Traceback" not in r.output


def test_cost_of_accuracy_counts_tokens_per_correct_and_budgets():
    from distill.evaluation.records import ResponseRecord
    from distill.evaluation.stats import cost_of_accuracy
    from distill.grading.grader import Verdict
    from distill.usage import Usage

    def rec(tokens: int, ok: bool | None) -> ResponseRecord:
        return ResponseRecord(problem_id=f"p{tokens}", run=0, seed=0, level="R1", source="s", key="1", response="x", words=1,
                              usage=Usage(completion_tokens=tokens), finish_reason="stop",
                              verdict=Verdict(correct=ok, extracted="1", method="exact_string"))

    out = cost_of_accuracy([rec(30, True), rec(100, True), rec(200, False), rec(600, None)])
    assert out["tokens_per_correct"] == pytest.approx(930 / 2)
    assert out["accuracy_at_budget"] == {"32": 0.25, "64": 0.25, "128": 0.5, "256": 0.5, "512": 0.5, "1024": 0.5}
    assert cost_of_accuracy([rec(50, False)])["tokens_per_correct"] is None


def test_the_frontier_marks_dominated_students():
    from distill.study.bought import frontier

    ev = {"evaluate:base": {"mean": 0.1, "mean_tokens": 10.0, "tokens_per_correct": 100.0},
          "evaluate:tuned:R1": {"mean": 0.6, "mean_tokens": 200.0, "tokens_per_correct": 333.3},
          "evaluate:tuned:R6": {"mean": 0.5, "mean_tokens": 40.0, "tokens_per_correct": 80.0},
          "evaluate:conditioned:R3": {"mean": 0.4, "mean_tokens": 60.0, "tokens_per_correct": 150.0},
          "evaluate:teacher": {"mean": 0.9, "mean_tokens": 900.0, "tokens_per_correct": 1000.0}}
    rows = {r.name: r for r in frontier(ev)}
    assert [r.name for r in frontier(ev)][0] == "tuned R6"  # sorted by tokens per correct
    assert rows["conditioned, asked R3"].dominated  # R6 is more accurate for fewer tokens
    assert not any(rows[n].dominated for n in ("base", "tuned R1", "tuned R6", "teacher"))


@pytest.mark.slow
def test_a_study_trains_and_evaluates_a_mix_and_the_conditioned_student(tmp_path, run_cli, tiny_model):
    from distill.demo.loopback import LoopbackServer
    from distill.demo.recorded_teacher import recorded_teacher

    with LoopbackServer(recorded_teacher) as srv:
        cfg, _ = _study(tmp_path, tiny_model, srv.base_url, 'conditioned = true\nconditioned_finetune = {iters = 4}\nmixes = ["R1=0.5,R3=0.5"]\n')
        ran = json.loads(run_cli("-w", str(tmp_path / "ws"), "study", "run", "--config", str(cfg), "--json").stdout)["ran"]
    assert ran.index("finetune:mix-R1_50-R3_50") < ran.index("evaluate:tuned:mix-R1_50-R3_50") < ran.index("report")
    assert all(f"evaluate:conditioned:R{k}" in ran for k in range(1, 7))
    state = json.loads(next((tmp_path / "ws" / "studies").glob("*/state.json")).read_text())["steps"]
    mix = json.loads((Path(state["export:mix-R1_50-R3_50"]["outputs"]["dir"]) / "manifest.json").read_text())
    assert mix["mix"] == {"R1": 0.5, "R3": 0.5} and abs(mix["mix_assigned"]["R1"] - mix["mix_assigned"]["R3"]) <= 1
    cond = json.loads((Path(state["finetune:conditioned"]["outputs"]["dir"]) / "finetune_config.json").read_text())["args"]
    assert cond["iters"] == 4  # [levels] conditioned_finetune
    result = json.loads(next((tmp_path / "ws" / "studies").glob("*/report/study.json")).read_text())
    names = {r["name"] for r in result["cost"]}
    assert {"tuned mix-R1_50-R3_50", "conditioned, asked R1", "base"} <= names
