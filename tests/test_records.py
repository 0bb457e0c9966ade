"""Every summary the stages write is a versioned pydantic record, read back through its model: a
stale or hand-edited file is a one-line error naming the file and the key, exit code 2."""

from __future__ import annotations

import json

import pytest
from distill.evaluation.records import EvalConfig, EvalSummary, read_summary
from distill.finetune.records import FinetuneSummary, read_checkpoint_state, read_finetune_summary
from distill.grading.judge import Disagreement
from distill.io import append_jsonl, read_jsonl_records, write_record

from distill.errors import DistillError

SUMMARY = {
    "n_problems": 2, "n_responses": 4, "runs": [{"run": 0, "seed": 0, "n": 2, "correct": 1, "accuracy": 0.5},
                                                 {"run": 1, "seed": 1, "n": 2, "correct": 2, "accuracy": 1.0}],
    "mean": 0.75, "std": 0.3536, "ci95": [0.5, 1.0], "by_year": {"2001": {"mean": 0.75, "std": 0.3536, "runs": 2, "n": 2}},
    "by_section": {}, "by_subject": {}, "by_difficulty": {}, "mean_words": 10.0, "mean_tokens": 12.0, "truncated_rate": 0.0,
    "error_rate": 0.0, "undecided_rate": 0.0, "judge_rate": 0.0, "forced_rate": 0.0, "answer_format_rate": 1.0,
    "mean_thinking_words": 0.0, "mean_answer_words": 10.0, "accuracy_note": "n", "decoding": {}, "level": "R1",
    "backend": {"backend": "mlx"}, "sampling": {"temperature": 0.0}, "seed": 0, "templates": {"student": "ab"}, "grader": "g1",
}


def test_summary_round_trips_and_a_stale_one_names_file_and_key(tmp_path):
    write_record(tmp_path / "summary.json", EvalSummary.model_validate(SUMMARY))
    assert read_summary(tmp_path).mean == 0.75 and json.loads((tmp_path / "summary.json").read_text())["schema_version"] == 2
    broken = {k: v for k, v in SUMMARY.items() if k != "mean"}
    (tmp_path / "summary.json").write_text(json.dumps({**broken, "schema_version": 2}))
    with pytest.raises(DistillError) as err:
        read_summary(tmp_path)
    assert "summary.json" in err.value.message and "mean" in err.value.message
    (tmp_path / "summary.json").write_text(json.dumps({**SUMMARY, "schema_version": 1}))
    with pytest.raises(DistillError, match="schema_version"):
        read_summary(tmp_path)


def test_eval_report_on_a_hand_edited_summary_exits_2(tmp_path, run_cli):
    (tmp_path / "summary.json").write_text(json.dumps({**SUMMARY, "mean": "high"}))
    (tmp_path / "responses.jsonl").write_text("")
    result = run_cli("eval", "report", str(tmp_path), "--out", str(tmp_path / "report"), ok=False)
    assert result.exit_code == 2 and "summary.json" in result.output and "mean" in result.output and "Traceback" not in result.output


def test_eval_config_names_what_changed():
    base = dict(problems=["a", "b"], backend={"backend": "mlx"}, sampling={"temperature": 0.0}, runs=2, seed=0, level="R1",
                templates={"s": "1"}, grader="g")
    assert EvalConfig(**base).changed_from(EvalConfig(**base)) == []
    assert EvalConfig(**{**base, "seed": 1, "grader": "h"}).changed_from(EvalConfig(**base)) == ["seed", "grader"]
    assert EvalConfig(**{**base, "runs": 5}).changed_from(EvalConfig(**base)) == []  # more runs resume the same evaluation


def test_finetune_summary_is_read_back_as_its_model(tmp_path):
    s = FinetuneSummary(best_iteration=20, best_val_loss=1.5, final_val_loss=1.7, base_val_loss=2.5, iterations_run=40, iterations_planned=40,
                        stopped_early=False, train_examples=10, valid_examples=2, test_examples=2, truncated_examples={"train": 0},
                        wall_seconds=3.2, tokens_per_second=900.0, peak_memory_gb=None, adapter=str(tmp_path / "adapters.safetensors"))
    write_record(tmp_path / "summary.json", s)
    assert read_finetune_summary(tmp_path) == s
    with pytest.raises(DistillError, match="no summary.json"):
        read_finetune_summary(tmp_path / "elsewhere")


def test_report_on_a_folder_without_a_length_study_exits_2(tmp_path, run_cli):
    result = run_cli("eval", "report", "--length-study", str(tmp_path), "--out", str(tmp_path / "r.md"), ok=False)
    assert result.exit_code == 2 and "length_study.json" in result.output and "Traceback" not in result.output


def test_checkpoint_state_reads_the_pre_record_format_and_names_a_bad_key(tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    legacy = {"iteration": 14, "best_iteration": 9, "best_val_loss": 2.5, "final_val_loss": 2.7, "bad_evals": 1}  # no schema_version
    (ckpt / "state.json").write_text(json.dumps(legacy))
    state = read_checkpoint_state(tmp_path)
    assert (state.iteration, state.best_iteration, state.bad_evals, state.schema_version) == (14, 9, 1, 1)
    (ckpt / "state.json").write_text(json.dumps({**legacy, "iteration": "fourteen"}))
    with pytest.raises(DistillError) as err:
        read_checkpoint_state(tmp_path)
    assert "state.json" in err.value.message and "iteration" in err.value.message and "--resume" in err.value.message


def _disagreements(log):
    return [d for _, d in read_jsonl_records(log, Disagreement, "a judge disagreement", "audit again into a new log", log=True)]


def test_judge_disagreements_are_records_and_a_hand_edited_line_is_named(tmp_path):
    log = tmp_path / "judge_disagreements.jsonl"
    row = Disagreement(id=["p1", 0], key="2/3", extracted=r"\frac{4}{6}", rule=True, rule_method="sympy", judge=False, judge_reason="no")
    append_jsonl(log, row.model_dump(mode="json"))
    with open(log, "a") as fh:
        fh.write('{"id": "p2", "key": "1"')  # a run killed mid-line: dropped
    assert _disagreements(log) == [row]
    log.write_text(json.dumps({**row.model_dump(mode="json"), "judge": "maybe"}) + "\n")
    with pytest.raises(DistillError) as err:
        _disagreements(log)
    assert "judge_disagreements.jsonl: line 1" in err.value.message and "judge" in err.value.message


def test_a_hand_edited_problems_file_is_one_line_naming_file_line_and_key(workspace, run_cli):
    good = {"schema_version": 1, "id": "t-2001-fs-01", "source": "t", "year": 2001, "text": "What is 1 + 1?", "answer": "2"}
    path = workspace / "problems" / "problems.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "t-2001-fs-02", "year": "two thousand"}) + "\n")
    result = run_cli("problems", "list", ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "problems.jsonl: line 2" in result.output and "year" in result.output and "problem record" in result.output


@pytest.mark.parametrize("what", ["transcript", "level"])
def test_a_hand_edited_transcript_or_level_text_is_a_one_line_error_naming_it(workspace, what):
    """Not read as absent (which would silently redo or drop it): the command stops and names the record."""
    from distill.corpus.transcripts import LevelText, Transcript, TranscriptStore

    store = TranscriptStore(workspace / "transcripts")
    t = Transcript(problem_id="sample-2001-fs-01", source="sample", year=2001, status="accepted", key="144", fingerprint="f", started_at="now",
                   solution="Step 1: x\nFinal answer: \\boxed{144}")
    store.put(t)
    store.put_level(LevelText(problem_id=t.problem_id, level="R3", text="Step 1: x\nFinal answer: \\boxed{144}", words=5, ok=True, fingerprint="f"))
    key = ("transcript", t.problem_id) if what == "transcript" else ("level", t.problem_id, "R3")
    raw = store.cache.get(key)
    raw["status" if what == "transcript" else "words"] = "maybe" if what == "transcript" else "many"
    store.cache.set(key, raw)
    with pytest.raises(Exception) as exc:
        store.get(t.problem_id) if what == "transcript" else store.get_level(t.problem_id, "R3")
    line = str(exc.value)
    assert "sample-2001-fs-01" in line and "is not valid" in line and str(workspace / "transcripts") in line and "\n" not in line
    older = dict(raw, schema_version=0)  # an older schema is redone, not an error
    store.cache.set(key, older)
    assert (store.get(t.problem_id) if what == "transcript" else store.get_level(t.problem_id, "R3")) is None
