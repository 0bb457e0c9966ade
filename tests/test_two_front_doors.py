"""One pipeline, two front doors: `distill study run` and the stage commands, asked the same thing on
the same data, write the same exports (bytes), the same evaluation responses and numbers, and record
the same fingerprints of their inputs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from distill.demo.loopback import LoopbackServer
from distill.demo.recorded_teacher import recorded_teacher
from distill.demo.samples import samples_dir

from .test_study import small_config


def _responses(folder: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (folder / "responses.jsonl").read_text().splitlines() if line.strip()]
    return sorted((r["problem_id"], r["run"], r["sample"], r["response"], r["verdict"]["correct"], r["verdict"]["method"]) for r in rows)


def _config(folder: Path) -> dict:
    cfg = json.loads((folder / "eval_config.json").read_text())
    cfg.pop("spec")  # a name: the study's step name, the command's problem spec
    cfg["backend"].pop("adapter", None)  # a path: each front door trains into its own folder
    return cfg


def _numbers(folder: Path) -> dict:
    s = json.loads((folder / "summary.json").read_text())
    return {k: s[k] for k in ("mean", "std", "n_problems", "n_responses", "ci95", "mean_words", "answer_format_rate", "truncated_rate")}


@pytest.mark.slow
def test_study_and_commands_give_the_same_exports_responses_and_numbers(tmp_path, run_cli, tiny_model):
    with LoopbackServer(recorded_teacher) as srv:
        cfg_path = small_config(tmp_path, srv.base_url, tiny_model)
        text = cfg_path.read_text().replace("teacher = false", "teacher = true")
        cfg_path.write_text(text)
        cfg = tomllib.loads(text)
        study_ws, cmd_ws = tmp_path / "study-ws", tmp_path / "cmd-ws"
        run_cli("-w", str(study_ws), "study", "run", "--config", str(cfg_path), "--json")
        state = json.loads((study_ws / "studies" / cfg["name"] / "state.json").read_text())["steps"]

        # the same steps through the commands, with the study's settings
        toml = tmp_path / "distill.toml"
        toml.write_text("\n".join(f"[{r}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in cfg[r].items()) for r in ("solver", "verifier", "judge")))
        c = ("-w", str(cmd_ws), "--config", str(toml))
        run_cli(*c, "problems", "import", str(samples_dir()), "--source", "sample")
        corpus = cfg["corpus"]
        run_cli(*c, "corpus", "run", "--years", "2001-2002", "--source", "sample", "--max-rounds", str(corpus["max_rounds"]),
                "--concurrency", str(corpus["concurrency"]), "--quiet")
        run_cli(*c, "corpus", "levels", "--years", "2001-2002", "--source", "sample", "--levels", "R3", "--quiet")
        for lv in ("R1", "R3"):
            out = cmd_ws / "exports" / lv
            run_cli(*c, "corpus", "export", "--out", str(out), "--level", lv, "--source", "sample", "--valid-years", "2002",
                    "--test-years", "2003", "--seed", str(cfg["evaluation"]["seed"]))
            theirs = Path(state[f"export:{lv}"]["outputs"]["dir"])
            for name in ("train.jsonl", "valid.jsonl", "test.jsonl", "manifest.json"):
                assert (out / name).exists() == (theirs / name).exists(), (lv, name)  # an empty split is written by neither
                if (out / name).exists():
                    assert (out / name).read_bytes() == (theirs / name).read_bytes(), (lv, name)
        ft_out = cmd_ws / "ft-R3"
        ft_cfg = tmp_path / "ft.toml"  # the study's [finetune] table, as a `finetune run --config-file`
        ft_cfg.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in {**cfg["finetune"], "title": "R3 student"}.items()))
        run_cli(*c, "finetune", "run", "--config-file", str(ft_cfg), "--data", str(cmd_ws / "exports" / "R3"), "--out", str(ft_out), "--quiet")
        ours_ft = json.loads((ft_out / "summary.json").read_text())
        theirs_ft = json.loads((Path(state["finetune:R3"]["outputs"]["dir"]) / "summary.json").read_text())
        for key in ("best_iteration", "best_val_loss", "base_val_loss", "final_val_loss", "iterations_run"):
            assert ours_ft[key] == theirs_ft[key], key

        ev = cfg["evaluation"]
        common = ["--problems", "sample:2003", "--runs", str(ev["runs"]), "--seed", str(ev["seed"]), "--temperature", str(ev["temperature"]),
                  "--top-p", str(ev["top_p"]), "--max-tokens", str(ev["max_tokens"]), "--batch-size", str(ev["batch_size"]),
                  "--concurrency", str(corpus["concurrency"]), "--no-judge", "--quiet"]
        runs = {"evaluate:base": ["--model", str(tiny_model)],
                "evaluate:tuned:R3": ["--model", str(tiny_model), "--adapter", str(ft_out), "--level", "R3"],
                "evaluate:teacher": ["--endpoint", "solver"]}
        for key, who in runs.items():
            out = cmd_ws / "evals" / key.replace(":", "-")
            run_cli(*c, "eval", "run", *who, *common, "--out", str(out))
            theirs = Path(state[key]["outputs"]["dir"])
            assert _responses(out) == _responses(theirs), key
            assert _numbers(out) == _numbers(theirs), key
            assert _config(out) == _config(theirs), key
        tuned = json.loads((cmd_ws / "evals" / "evaluate-tuned-R3" / "summary.json").read_text())["decoding"]
        theirs = json.loads((Path(state["evaluate:tuned:R3"]["outputs"]["dir"]) / "summary.json").read_text())["decoding"]
        assert tuned["adapter_sha256"] == theirs["adapter_sha256"] is not None  # the same adapter, trained twice

    # the same inputs: every transcript's fingerprint, in both workspaces
    from distill.corpus.transcripts import TranscriptStore

    def fingerprints(ws: Path) -> dict:
        return {(t.problem_id, t.sample): t.fingerprint for t in TranscriptStore(ws / "transcripts").all()}

    assert fingerprints(cmd_ws) == fingerprints(study_ws) and fingerprints(cmd_ws)
