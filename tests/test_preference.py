"""`corpus export --format dpo`: preference pairs from a K-sample corpus, split and decontaminated like every export."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from distill.demo.loopback import LoopbackServer, Reply
from distill.demo.recorded_teacher import RecordedTeacher, formatter_reply, role_settings
from distill.demo.samples import sample_files
from distill.prompts import load_template


class OneStubbornSample(RecordedTeacher):
    """The recorded teacher, except that the third sample of the beads problem never gets it right: that
    sample is rejected while the others are verified (a `samples` pair)."""

    def __init__(self) -> None:
        super().__init__()
        self.firsts = 0
        self.guard = threading.Lock()

    def __call__(self, body):
        msgs = body.get("messages", [])
        text = json.dumps(msgs)
        if body.get("model") == "recorded-r1" and "5 green beads" in text:
            if "(second thoughts)" in text:
                return Reply(content="Still 5 of 7, so \\boxed{\\frac{5}{7}} (second thoughts).")
            if sum(1 for m in msgs if m.get("role") == "assistant") == 0:
                with self.guard:
                    self.firsts += 1
                    n = self.firsts
                if n == 3:
                    return Reply(content="5 green of 7, so \\boxed{\\frac{5}{7}} (second thoughts).")
        return super().__call__(body)


class CorrectingFormatter(RecordedTeacher):
    """A Formatter that writes the right solution whatever answer it was asked to keep."""

    def __call__(self, body):
        if body.get("model") == "recorded-formatter":
            body = json.loads(json.dumps(body))
            for m in body["messages"]:
                m["content"] = re.sub(r"Final answer: \\boxed\{.*\}\s*$", "Final answer: \\\\boxed{ }", str(m["content"]), flags=re.M)
            return formatter_reply(body)
        return super().__call__(body)


@pytest.mark.slow
def test_dpo_export_writes_pairs_of_each_kind_with_counts(run_cli, monkeypatch, workspace, tmp_path):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    with LoopbackServer(OneStubbornSample()) as srv:
        for role, values in role_settings(srv.base_url).items():
            for k, v in values.items():
                monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        run_cli("corpus", "run", "--years", "2001-2002", "--samples", "4", "--concurrency", "1", "--quiet", ok=False)
    out = tmp_path / "dpo"
    r = run_cli("corpus", "export", "--out", str(out), "--format", "dpo", "--prefer", "shorter", "--source", "sample",
                "--valid-years", "2002", "--test-years", "2003")
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"] == "dpo" and set(m["pairs"]) == {"samples", "rounds", "shorter"} and all(n > 0 for n in m["pairs"].values())
    rows = [json.loads(line) for split in ("train", "valid") for line in (out / f"{split}.jsonl").read_text().splitlines()]
    assert len(rows) == sum(m["pairs"].values()) == m["counts"]["train"] + m["counts"]["valid"] and m["counts"]["test"] == 0
    assert all(set(row) == {"system", "prompt", "chosen", "rejected"} and row["chosen"] != row["rejected"] for row in rows)
    # one form on both sides (last-line shape, step lines, think block): the Solver's own replies by default
    from distill.corpus.preference import text_form

    assert m["pair_form"] == "solver" and all(text_form(row["chosen"]) == text_form(row["rejected"]) for row in rows)
    assert not any(text_form(row["chosen"])[1] for row in rows)  # no Formatter `Step n:` lines on either side
    beads = [row for row in rows if "5 green beads" in row["prompt"]]
    assert any("(second thoughts)" in row["rejected"] for row in beads)  # the failed sample, against a verified one
    assert "pairs by kind (solver form): rounds" in r.output and m["decontamination"]["training_problems"] == 8
    # the student prompt is the one every export and evaluation uses
    from distill.corpus.prompt import StudentPrompt
    from distill.grading.grader import grade
    from distill.problems.store import ProblemStore

    problems = ProblemStore(workspace / "problems" / "problems.jsonl").load()
    problem = next(p for p in problems if "5 green beads" in p.text)
    system, user = (x["content"] for x in StudentPrompt.load().messages(problem))
    assert beads[0]["system"] == system and beads[0]["prompt"] == user
    # the chosen side is right and the rejected side of every samples/rounds pair is wrong, by the grader
    key_of = {StudentPrompt.load().messages(p)[1]["content"]: p.answer for p in problems}
    for row in rows:
        assert grade(key_of[row["prompt"]], row["chosen"]).correct is True
    wrong = [row for row in rows if grade(key_of[row["prompt"]], row["rejected"]).correct is not True]
    assert len(wrong) == m["pairs"]["samples"] + m["pairs"]["rounds"]  # and the shorter pairs' rejected side is right

    # the other form: both sides the Formatter's rewrites; before `corpus rewrite-wrong` only verified samples have one
    out2 = tmp_path / "dpo-formatted"
    formatted = ("corpus", "export", "--out", str(out2), "--format", "dpo", "--prefer", "shorter", "--pair-form", "formatted",
                 "--source", "sample", "--valid-years", "2002", "--test-years", "2003")
    r2 = run_cli(*formatted)
    m2 = json.loads((out2 / "manifest.json").read_text())
    rows2 = [json.loads(line) for split in ("train", "valid") for line in (out2 / f"{split}.jsonl").read_text().splitlines()]
    assert m2["pair_form"] == "formatted" and set(m2["pairs"]) == {"shorter"} and len(rows2) == m2["pairs"]["shorter"]
    assert m2["pairs_dropped"]["no Formatter rewrite of a wrong reply"] == m["pairs"]["samples"] + m["pairs"]["rounds"]
    assert all(row[side].rstrip().splitlines()[-1].startswith("Final answer: \\boxed{") for row in rows2 for side in ("chosen", "rejected"))
    assert "candidate pairs dropped:" in r2.output
    # a Formatter that corrects the wrong answer it was asked to keep: every rewrite is refused, none used
    with LoopbackServer(CorrectingFormatter()) as srv:
        for role, values in role_settings(srv.base_url).items():
            monkeypatch.setenv(f"DISTILL_{role.upper()}__BASE_URL", values["base_url"])
        refused = json.loads(run_cli("corpus", "rewrite-wrong", "--source", "sample", "--json").stdout)
    # every wrong reply (a problem never verified has some too, with no pair to give)
    assert refused["rewrites"] == refused["refused"] >= m["pairs"]["samples"] + m["pairs"]["rounds"] and refused["ok"] == 0
    run_cli(*formatted)
    assert set(json.loads((out2 / "manifest.json").read_text())["pairs"]) == {"shorter"}
    # the recorded Formatter keeps the answer: each wrong reply's rewrite is used, in the accepted solutions' form
    with LoopbackServer(OneStubbornSample()) as srv:
        for role, values in role_settings(srv.base_url).items():
            monkeypatch.setenv(f"DISTILL_{role.upper()}__BASE_URL", values["base_url"])
        # another Formatter (its sampling differs; a loopback port alone is not another endpoint): all redone
        monkeypatch.setenv("DISTILL_VERIFIER__TEMPERATURE", "0.3")
        kept = json.loads(run_cli("corpus", "rewrite-wrong", "--source", "sample", "--json").stdout)
        again = json.loads(run_cli("corpus", "rewrite-wrong", "--source", "sample", "--json").stdout)
        edited = tmp_path / "prompts"
        edited.mkdir()
        bundled = Path(load_template("formatter_wrong").path).read_text()
        (edited / "formatter_wrong.md").write_text(bundled.replace("- No restarts,", "- Plain words.\n- No restarts,"))
        redone = json.loads(run_cli("corpus", "rewrite-wrong", "--source", "sample", "--prompts", str(edited), "--json").stdout)
        run_cli("corpus", "rewrite-wrong", "--source", "sample", "--quiet")  # the bundled template again, for the export below
    assert redone["ok"] == kept["ok"] and redone["model_calls"] > 0  # an edited template redoes the rewrites
    # one call per rewrite (two samples' identical wrong replies may share one from the call cache)
    assert kept["ok"] == kept["rewrites"] == refused["rewrites"] and kept["model_calls"] + kept["cached"] == kept["ok"]
    assert again["ok"] == kept["ok"] and again["model_calls"] == again["cached"] == 0  # stored: a rerun asks nothing
    r2 = run_cli(*formatted)
    m2 = json.loads((out2 / "manifest.json").read_text())
    rows2 = [json.loads(line) for split in ("train", "valid") for line in (out2 / f"{split}.jsonl").read_text().splitlines()]
    assert m2["pairs"] == m["pairs"] and "no Formatter rewrite of a wrong reply" not in m2["pairs_dropped"]
    assert all(text_form(row["chosen"]) == text_form(row["rejected"]) == ("boxed", True, False) for row in rows2)
    for row in rows2:
        assert grade(key_of[row["prompt"]], row["chosen"]).correct is True
    assert len([row for row in rows2 if grade(key_of[row["prompt"]], row["rejected"]).correct is False]) == m["pairs"]["samples"] + m["pairs"]["rounds"]
    beads2 = [row for row in rows2 if "5 green beads" in row["prompt"] and "\\frac{5}{7}" in row["rejected"]]
    assert beads2 and all(row["rejected"].rstrip().endswith("Final answer: \\boxed{\\frac{5}{7}}") for row in beads2)  # its own answer
    assert "pairs by kind (formatted form): " in r2.output
    assert m2["templates"]["formatter_wrong"] == load_template("formatter_wrong").sha256  # what the rejected sides were written with

    # --level trace: both sides carry the Solver's thinking in <think>, or the pair is left out
    out3 = tmp_path / "dpo-trace"
    run_cli("corpus", "export", "--out", str(out3), "--format", "dpo", "--level", "trace", "--source", "sample",
            "--valid-years", "2002", "--test-years", "2003")
    m3 = json.loads((out3 / "manifest.json").read_text())
    rows3 = [json.loads(line) for split in ("train", "valid") if (out3 / f"{split}.jsonl").exists()  # an empty split is not written
             for line in (out3 / f"{split}.jsonl").read_text().splitlines()]
    assert all((out3 / f"{s}.jsonl").exists() == (m3["counts"][s] > 0) for s in ("train", "valid", "test"))
    assert rows3 and len(rows3) == sum(m3["pairs"].values())
    assert all(row[side].startswith("<think>\n") for row in rows3 for side in ("chosen", "rejected"))
    assert all(text_form(row["chosen"]) == text_form(row["rejected"]) for row in rows3)


def pairs_folder(folder, n_train: int = 24, n_valid: int = 8):
    """Preference pairs a tiny model can learn: the stepwise answer over a rambling one."""
    import random

    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("valid", n_valid)):
        rows = []
        for _ in range(n):
            a, b = rng.randint(2, 40), rng.randint(2, 40)
            rows.append({"system": "Solve step by step.", "prompt": f"What is {a} + {b}?",
                         "chosen": f"Step 1: Add {a} and {b}.\nFinal answer: \\boxed{{{a + b}}}",
                         "rejected": f"Well, maybe {a} or maybe {b}, it depends, I am not sure at all."})
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.mark.slow
def test_dpo_raises_held_out_preference_accuracy_and_margin(tiny_model, tmp_path, run_cli):
    data = pairs_folder(tmp_path / "pairs")
    out = tmp_path / "dpo"
    s = json.loads(run_cli("finetune", "run", "--method", "dpo", "--model", str(tiny_model), "--data", str(data), "--out", str(out),
                           "--iters", "30", "--batch-size", "4", "--steps-per-eval", "10", "--learning-rate", "5e-3", "--beta", "0.1",
                           "--num-layers", "-1", "--json", "--quiet").stdout)
    p = s["preference"]
    assert s["method"] == "dpo" and p["accuracy_best"] > 0.5 and p["margin_best"] > p["margin_before"]
    assert (out / "adapters.safetensors").exists() and (out / "loss.png").stat().st_size > 1000
    # the kept adapter evaluates like any other
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    ev = json.loads(run_cli("eval", "run", "--model", str(tiny_model), "--adapter", str(out), "--problems", "sample:2001", "--limit", "2",
                            "--max-tokens", "8", "--no-judge", "--quiet", "--json", "--out", str(tmp_path / "ev")).stdout)
    assert ev["n_problems"] == 2 and ev["decoding"]["adapter_sha256"]


def test_rewrite_wrong_with_nothing_to_rewrite_is_one_line_and_exit_2(recorded_corpus, run_cli):
    # the sum of odd integers is solved at the first attempt: no wrong reply to rewrite, no model call
    r = run_cli("corpus", "rewrite-wrong", "--problems", "sample-2001-fs-01", ok=False)
    assert r.exit_code == 2 and "no wrong Solver replies in that selection" in r.output and "Traceback" not in r.output
