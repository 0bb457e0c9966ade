"""GRPO with distill's grader as the reward, and ORPO, on the tiny model; the rewards themselves as tables."""

from __future__ import annotations

import json

import pytest

from distill.finetune.rewards import correctness_reward, format_score, reward_functions

# replies graded right, wrong and undecided by the rules, as `eval grade --no-judge` decides them
GRADED_REPLIES = [
    ("43", "Step 1: 12 + 31 = 43.\nFinal answer: \\boxed{43}"),
    ("43", "Final answer: \\boxed{44}"),
    ("43", "I cannot tell."),
    ("\\frac{1}{2}", "So the probability is $\\frac{2}{4}$, that is \\boxed{0.5}"),
    ("x^2+1", "The value is given by the polynomial in x, see above"),
    ("12", "We get 12 apples. Final answer: \\boxed{12 \\text{ apples}}"),
]


def test_the_correctness_reward_is_eval_grade_verdict_for_verdict(run_cli, tmp_path):
    from distill.grading.pool import Grader

    src = tmp_path / "replies.jsonl"
    src.write_text("".join(json.dumps({"gold": k, "response": r}) + "\n" for k, r in GRADED_REPLIES))
    run_cli("eval", "grade", str(src), "--out", str(tmp_path / "graded.jsonl"), "--no-judge", "--workers", "1")
    graded = [json.loads(line)["correct"] for line in (tmp_path / "graded.jsonl").read_text().splitlines()]
    assert set(graded) == {True, False, None}  # the table holds every outcome
    with Grader(workers=1) as grader:
        rewards = correctness_reward(grader, abstain=-0.25)([""] * len(GRADED_REPLIES), [r for _, r in GRADED_REPLIES],
                                                            [k for k, _ in GRADED_REPLIES])
    assert rewards == [{True: 1.0, False: 0.0, None: -0.25}[c] for c in graded]


@pytest.mark.parametrize("text, score", [
    ("Step 1: 2 + 3 = 5.\nFinal answer: \\boxed{5}", 1.0),  # the form the student prompt asks for
    ("Final answer: \\boxed{\\frac{1}{2}}\n\n", 1.0),
    ("The answer is \\boxed{5}. Then some more words.", 0.5),  # a readable box, in the wrong place
    ("Final answer: \\boxed{5}\nand then I kept talking", 0.5),
    ("Final answer: \\boxed{}", 0.0),  # an empty box
    ("Final answer: \\boxed{5", 0.0),  # an unclosed box
    ("Final answer Final answer \\boxed", 0.0),  # the words without a box earn nothing
    ("", 0.0),
])
def test_format_score_table(text, score):
    assert format_score(text) == score


def test_reward_choice_and_weights():
    names = lambda kind: [f.__name__ for f in reward_functions(kind, None, 0.0, 0.3)[0]]  # noqa: E731
    assert names("correct") == ["correct"] and names("format") == ["format_reward"]
    assert names("correct+format") == ["correct", "format_reward"] and reward_functions("correct+format", None, 0.0, 0.3)[1] == [1.0, 0.3]


def sums_jsonl(path, n: int = 25, seed: int = 1):
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        rows.append({"id": f"sum-{i:02d}", "problem": f"What is {a} + {b}?", "answer": str(a + b)})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_grpo_problems_are_chosen_like_eval_and_written_with_the_student_prompt(run_cli, tmp_path, workspace):
    run_cli("problems", "import", str(sums_jsonl(tmp_path / "sums.jsonl")), "--format", "jsonl", "--source", "sums")
    r = run_cli("finetune", "run", "--method", "grpo", "--model", str(tmp_path / "nowhere"), "--problems", "sums",
                "--out", str(tmp_path / "out"), ok=False)
    assert r.exit_code == 2 and "model path not found" in r.output  # the prompt set is written before the model loads
    train = [json.loads(x) for x in (tmp_path / "out" / "prompts" / "train.jsonl").read_text().splitlines()]
    valid = [json.loads(x) for x in (tmp_path / "out" / "prompts" / "valid.jsonl").read_text().splitlines()]
    assert (len(train), len(valid)) == (20, 5) and not {t["id"] for t in train} & {v["id"] for v in valid}
    from distill.corpus.prompt import StudentPrompt
    from distill.problems.store import ProblemStore

    p = next(p for p in ProblemStore(workspace / "problems" / "problems.jsonl").load() if p.id.endswith("sum-00"))
    system, user = (m["content"] for m in StudentPrompt.load().messages(p))
    assert train[0] == {"id": p.id, "system": system, "prompt": user, "answer": p.answer}
    bad = run_cli("finetune", "run", "--method", "dpo", "--problems", "sums", "--model", "m", "--data", "d", "--out", "o", ok=False)
    assert bad.exit_code == 2 and "--problems chooses GRPO's prompts" in bad.output


def student_sums(folder, seed: int = 0):
    """SFT rows of sums in the student prompt's own words (the system prompt GRPO's prompts carry)."""
    import random

    from distill.corpus.prompt import StudentPrompt
    from distill.problems.schema import Problem

    rng, student = random.Random(seed), StudentPrompt.load()
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 48), ("valid", 12)):
        rows = []
        for i in range(n):
            a, b = rng.randint(1, 60), rng.randint(1, 60)
            p = Problem(id=f"s-{i}", source="s", text=f"What is {a} + {b}?", answer=str(a + b))
            rows.append(student.example(p, f"Step 1: {a} + {b} = {a + b}.\nFinal answer: \\boxed{{{a + b}}}"))
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.mark.slow
def test_grpo_on_the_format_reward_raises_the_mean_reward(tiny_model, tmp_path, run_cli, workspace):
    """The chain the study runs: a short SFT run, then GRPO on top of its adapter, then `eval run` on GRPO's adapter."""
    sft = tmp_path / "sft"
    run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(student_sums(tmp_path / "chat")), "--out", str(sft),
            "--iters", "40", "--learning-rate", "3e-3", "--fine-tune-type", "full", "--num-layers", "-1", "--steps-per-eval", "40", "--quiet")
    run_cli("problems", "import", str(sums_jsonl(tmp_path / "sums.jsonl", n=20)), "--format", "jsonl", "--source", "sums")
    out = tmp_path / "grpo"
    s = json.loads(run_cli("finetune", "run", "--method", "grpo", "--model", str(tiny_model), "--adapter", str(sft), "--problems", "sums",
                           "--out", str(out), "--reward", "format", "--iters", "24", "--batch-size", "4", "--group-size", "4",
                           "--learning-rate", "5e-4", "--beta", "0.04", "--temperature", "1.0", "--max-completion-length", "40",
                           "--steps-per-eval", "8", "--steps-per-report", "2", "--val-batches", "1", "--json", "--quiet").stdout)
    r = s["reward"]
    curve = [c["mean"] for c in r["train_curve"]]
    third = len(curve) // 3
    assert s["method"] == "grpo" and r["rewards"] == ["format_reward"] and len(curve) == 12
    assert sum(curve[-third:]) / third > sum(curve[:third]) / third  # the mean reward rises over the steps
    assert r["valid_best"] > r["valid_before"]
    assert all(c["std"] is not None for c in r["train_curve"])
    assert (out / "reward.png").stat().st_size > 1000 and (out / "adapters.safetensors").exists()
    ev = json.loads(run_cli("eval", "run", "--model", str(tiny_model), "--adapter", str(out), "--problems", "sums", "--limit", "2",
                            "--max-tokens", "8", "--no-judge", "--quiet", "--json", "--out", str(tmp_path / "ev")).stdout)
    assert ev["n_problems"] == 2 and ev["decoding"]["adapter_sha256"]


@pytest.mark.slow
def test_orpo_trains_on_pairs_and_a_preference_run_resumes(tiny_model, tmp_path, run_cli):
    from tests.test_preference import pairs_folder

    data = pairs_folder(tmp_path / "pairs")
    out = tmp_path / "orpo"
    common = ["--method", "orpo", "--model", str(tiny_model), "--data", str(data), "--out", str(out), "--batch-size", "4",
              "--steps-per-eval", "5", "--learning-rate", "5e-3", "--num-layers", "-1", "--save-every", "5", "--json", "--quiet"]
    first = json.loads(run_cli("finetune", "run", *common, "--iters", "10").stdout)
    assert first["method"] == "orpo" and first["iterations_run"] == 10 and first["preference"]["accuracy_before"] is not None
    again = run_cli("finetune", "run", *common, "--iters", "20", ok=False)
    assert again.exit_code == 2 and "already holds a run" in again.output
    s = json.loads(run_cli("finetune", "run", *common, "--iters", "20", "--resume").stdout)
    p = s["preference"]
    assert s["iterations_run"] == 20 and p["accuracy_best"] > 0.5 and p["margin_best"] > p["margin_before"]
    cfg = json.loads((out / "finetune_config.json").read_text())
    assert cfg["resumed_from_iteration"] == 10
    iters = [json.loads(x)["iteration"] for x in (out / "metrics.jsonl").read_text().splitlines() if json.loads(x)["kind"] == "val"]
    assert iters == sorted(set(iters)) and max(iters) == 20  # no iteration measured twice


def test_what_the_trainers_raise_is_one_line_with_its_exit_code():
    from distill.errors import DistillError, WorkFailed
    from distill.finetune.policy import quiet_trainer

    with pytest.raises(DistillError, match="mlx-lm-lora refused the run: Dataset must have at least batch_size=4"):
        with quiet_trainer():
            raise ValueError("Dataset must have at least batch_size=4 examples but only has 2.\nmore")
    with pytest.raises(WorkFailed, match="training diverged .*lower --learning-rate"):
        with quiet_trainer():
            raise FloatingPointError("Non-finite GRPO loss or gradients; optimizer update aborted.")


def test_a_grpo_run_into_a_folder_holding_a_run_leaves_its_prompt_set_alone(run_cli, tmp_path, workspace):
    run_cli("problems", "import", str(sums_jsonl(tmp_path / "sums.jsonl")), "--format", "jsonl", "--source", "sums")
    out = tmp_path / "out"
    (out / "prompts").mkdir(parents=True)
    (out / "metrics.jsonl").write_text("{}\n")
    (out / "prompts" / "train.jsonl").write_text("the earlier run's\n")
    r = run_cli("finetune", "run", "--method", "grpo", "--model", "m", "--problems", "sums", "--out", str(out), ok=False)
    assert r.exit_code == 2 and "already holds a run" in r.output
    assert (out / "prompts" / "train.jsonl").read_text() == "the earlier run's\n"


@pytest.mark.parametrize("completion", [
    "Final answer: \\boxed{43 \\text{ or } 44}",
    "Final answer: \\boxed{43}, \\boxed{44}",
    "Final answer: \\boxed{42 \\text{ to } 44}",
    "Final answer: \\boxed{43 \\pm 1}",
    "Final answer: \\boxed{n \\geq 43}",
    "The answer is at least 43.",
    "Final answer: \\boxed{43n}",
])
def test_a_hedged_completion_earns_no_reward(completion):
    """A policy that lists several answers must not be paid for the one that is right (issue 36)."""
    from distill.grading.pool import Grader

    with Grader(workers=1) as grader:
        assert correctness_reward(grader, abstain=0.5)([""], [completion], ["43"]) == [0.0]
        assert correctness_reward(grader, abstain=0.5)([""], ["Final answer: \\boxed{43}"], ["43"]) == [1.0]


@pytest.mark.slow
def test_grpo_with_a_constant_reward_logs_zero_variance_and_stops_when_flat(tiny_model, tmp_path, run_cli, workspace):
    """The untrained tiny model never writes a box, so the format reward is 0 for every completion: every group
    is zero-variance (no gradient), every step says so, and --stop-when-flat 3 ends the run at step 3 of 20."""
    run_cli("problems", "import", str(sums_jsonl(tmp_path / "sums.jsonl", n=20)), "--format", "jsonl", "--source", "sums")
    out = tmp_path / "flat"
    s = json.loads(run_cli("finetune", "run", "--method", "grpo", "--model", str(tiny_model), "--problems", "sums", "--out", str(out),
                           "--reward", "format", "--iters", "20", "--batch-size", "2", "--group-size", "2", "--max-completion-length", "8",
                           "--steps-per-eval", "10", "--steps-per-report", "1", "--val-batches", "1", "--stop-when-flat", "3",
                           "--json", "--quiet").stdout)
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"kind": "step"' in line]
    assert [m["iteration"] for m in steps] == [1, 2, 3]
    assert all(m["zero_variance_share"] == 1.0 and m["reward_mean"] == 0.0 for m in steps)
    assert all(0 < m["completion_tokens_mean"] <= 8 and 0.0 <= m["truncated_share"] <= 1.0 for m in steps)
    r = s["reward"]
    assert r["zero_variance_share"] == 1.0 and r["flat_steps_at_end"] == 3 and r["stopped_flat"] and s["stopped_early"]
    assert s["iterations_run"] < 20 and (out / "groups.png").stat().st_size > 1000
    log = (workspace / "logs").glob("*.log")
    assert any("every group's rewards have been equal for 3 steps" in p.read_text() for p in log)
