"""LoRA fine-tuning on a tiny Qwen2 built in the test: best adapter, early stop, resume, loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from distill.finetune.args import FinetuneArgs
from distill.finetune.records import read_checkpoint_state
from distill.finetune.model import load_model
from distill.finetune.run import evaluate_loss, run_finetune

from distill.demo.fixtures import write_chat_splits


def args(tiny_model, data, out, **kw):
    base = dict(model=str(tiny_model), data=str(data), out=str(out), iters=30, batch_size=4, num_layers=-1,
                steps_per_eval=5, steps_per_report=5, learning_rate=2e-3, val_batches=-1, save_every=10)
    base.update(kw)
    return FinetuneArgs(**base)


def val_loss_of(tiny_model, adapter_dir: Path, data: Path) -> float:
    from distill.finetune.data import load_split
    from mlx_lm.tuner.datasets import CacheDataset, ChatDataset

    model, tok = load_model(str(tiny_model), adapter_dir)
    rows = load_split(data / "valid.jsonl")
    return evaluate_loss(model, CacheDataset(ChatDataset(rows, tok, chat_key="messages", mask_prompt=True)), 4, 2048)


@pytest.fixture(scope="module")
def trained(tiny_model, chat_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    return out, run_finetune(args(tiny_model, chat_data, out))


@pytest.mark.slow
def test_validation_loss_falls_and_outputs_exist(trained):
    out, summary = trained
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    vals = [m for m in metrics if m["kind"] == "val"]
    assert len(vals) >= 6 and vals[0]["iteration"] == 0
    assert summary.best_val_loss < vals[0]["val_loss"] - 1.0
    for name in ("adapters.safetensors", "adapter_config.json", "summary.json", "loss.png", "finetune_config.json", "checkpoints/last.safetensors"):
        assert (out / name).exists(), name
    assert list((out / "checkpoints").glob("*_adapters.safetensors"))  # mlx-lm's periodic checkpoints
    assert summary.iterations_run == 30 and summary.train_examples == 48 and summary.test_loss > 0
    trains = [m for m in metrics if m["kind"] == "train"]
    assert all({"train_loss", "learning_rate", "tokens_per_second", "peak_memory_gb"} <= set(m) for m in trains)


@pytest.mark.slow
def test_saved_adapter_is_the_best_one(trained, tiny_model, chat_data):
    out, summary = trained
    vals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"val"' in line]
    best = min(vals, key=lambda m: m["val_loss"])
    assert summary.best_iteration == best["iteration"] and summary.best_val_loss == pytest.approx(best["val_loss"])
    # reload the saved adapter through mlx_lm.load and measure: it is the best point, not the last
    assert val_loss_of(tiny_model, out, chat_data) == pytest.approx(summary.best_val_loss, rel=1e-4)


def overfit_data(folder: Path) -> Path:
    """Validation answers in another style than training ones: validation loss falls, then rises."""
    import random

    rng = random.Random(0)

    def ex(a, b, style):
        ans = f"Step 1: {a} + {b} = {a + b}.\nFinal answer: \\boxed{{{a + b}}}" if style == 0 else f"The total of these two numbers, added together, equals {a + b} exactly."
        return {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": ans}]}

    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(ex(rng.randint(1, 60), rng.randint(1, 60), 0)) + "\n" for _ in range(48)))
    (folder / "valid.jsonl").write_text("".join(json.dumps(ex(rng.randint(1, 60), rng.randint(1, 60), 1)) + "\n" for _ in range(12)))
    return folder


@pytest.mark.slow
def test_early_stop_keeps_best_not_last_when_validation_rises(tiny_model, tmp_path):
    out, data = tmp_path / "out", overfit_data(tmp_path / "d")
    s = run_finetune(args(tiny_model, data, out, learning_rate=2e-3, iters=40, steps_per_eval=4, steps_per_report=4, early_stop_patience=3))
    vals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"val"' in line]
    assert s.stopped_early and s.iterations_run < 40
    assert len([v for v in vals if v["iteration"] > s.best_iteration]) == 3  # patience: three evaluations without a new best
    assert vals[-1]["val_loss"] > s.best_val_loss  # it got worse after the best...
    assert val_loss_of(tiny_model, out, data) == pytest.approx(s.best_val_loss, rel=1e-4)  # ...and the best was kept


@pytest.mark.slow
def test_resume_continues_from_checkpoint(tiny_model, chat_data, tmp_path):
    out = tmp_path / "out"
    first = run_finetune(args(tiny_model, chat_data, out, iters=15))
    state = read_checkpoint_state(out)  # the record --resume starts from
    assert json.loads((out / "checkpoints" / "state.json").read_text())["schema_version"] == 1
    assert state.iteration == 15 and state.best_val_loss == pytest.approx(first.best_val_loss)  # the last iteration is a checkpoint
    resumed = run_finetune(args(tiny_model, chat_data, out, iters=30, resume=True))
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    its = [m["iteration"] for m in metrics if m["kind"] == "train"]
    state_iteration = 15  # the checkpoint of a 15-iteration run holds the weights after its 15 updates
    assert its == sorted(set(its)) and its[-1] == 30 and 10 in its  # rows before the checkpoint are kept...
    assert all(i <= state_iteration or i > state_iteration + 4 for i in its)  # ...and the resumed run starts after it
    assert resumed.iterations_run == 30 and resumed.best_val_loss <= first.best_val_loss
    with pytest.raises(Exception, match="already holds a run"):
        run_finetune(args(tiny_model, chat_data, out, iters=30))


@pytest.mark.slow
def test_adapter_loads_in_mlx_lm_generate_cli(trained, tiny_model):
    out, _ = trained
    r = subprocess.run([sys.executable, "-m", "mlx_lm", "generate", "--model", str(tiny_model), "--adapter-path", str(out),
                        "--prompt", "What is 2 + 3?", "--max-tokens", "5"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_fuse_agrees_with_unfused(trained, tiny_model, tmp_path, run_cli):
    out, _ = trained
    res = run_cli("finetune", "fuse", "--model", str(tiny_model), "--adapter", str(out), "--out", str(tmp_path / "fused"), "--json")
    assert json.loads(res.output)["all_same"] is True


@pytest.mark.slow
def test_test_command(trained, tiny_model, chat_data, run_cli):
    out, summary = trained
    r = json.loads(run_cli("finetune", "test", "--model", str(tiny_model), "--adapter", str(out), "--data", str(chat_data), "--json").output)
    assert r["loss"] == pytest.approx(summary.test_loss, rel=1e-4) and r["perplexity"] > 1


@pytest.mark.slow
def test_cli_run_with_config_file_and_truncation_report(tiny_model, chat_data, tmp_path, run_cli):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(f"model: {tiny_model}\ndata: {chat_data}\niters: 6\nsteps-per-eval: 3\nmax_seq_length: 24\n")
    out = tmp_path / "o"
    res = run_cli("finetune", "run", "--config-file", str(cfg), "--out", str(out), "--json")
    s = json.loads(res.stdout)
    assert s["truncated_examples"]["train"] > 0  # 24 tokens is shorter than every example
    resolved = json.loads((out / "finetune_config.json").read_text())
    assert resolved["args"]["iters"] == 6 and resolved["args"]["max_seq_length"] == 24
    # the default --num-layers 16 on a 2-layer model adapts both, with a note (no error)
    assert resolved["args"]["num_layers"] == 16 and resolved["num_layers_resolved"] == 2
    assert "the model has 2 layers; --num-layers 16 asks for more, so all 2 are adapted" in res.stderr


@pytest.mark.slow
def test_full_fine_tuning_trains_every_weight_and_loads_as_an_adapter(tiny_model, chat_data, tmp_path):
    from distill.finetune.model import load_model

    out = tmp_path / "full"
    s = run_finetune(args(tiny_model, chat_data, out, fine_tune_type="full", iters=10, learning_rate=1e-2))
    assert s.best_val_loss < s.base_val_loss
    assert json.loads((out / "adapter_config.json").read_text())["fine_tune_type"] == "full"
    import mlx.core as mx

    saved = mx.load(str(out / "adapters.safetensors"))
    assert any("embed_tokens" in k for k in saved) and not any("lora" in k for k in saved)  # every weight, no adapters
    assert val_loss_of(tiny_model, out, chat_data) == pytest.approx(s.best_val_loss, rel=1e-4)
    load_model(str(tiny_model), out)


@pytest.mark.parametrize(
    "setup,fragment",
    [
        ("missing_split", "valid.jsonl: missing split"),
        ("not_chat", "train.jsonl: line 2: expected {\"messages\""),
        ("bad_json", "train.jsonl: line 1: malformed JSON"),
        ("empty", "train.jsonl: split is empty"),
        ("unknown_model", "model path not found"),
    ],
)
def test_bad_input_is_one_line(setup, fragment, tiny_model, tmp_path, run_cli):
    data = write_chat_splits(tmp_path / "d", sizes=(("train", 8), ("valid", 4)))
    model, extra = str(tiny_model), ["--num-layers", "-1"]
    if setup == "missing_split":
        (data / "valid.jsonl").unlink()
    elif setup == "not_chat":
        (data / "train.jsonl").write_text((data / "train.jsonl").read_text().splitlines()[0] + '\n{"prompt": "x"}\n')
    elif setup == "bad_json":
        (data / "train.jsonl").write_text("{oops\n")
    elif setup == "empty":
        (data / "train.jsonl").write_text("")
    elif setup == "unknown_model":
        model = str(tmp_path / "no-such-model")
    r = run_cli("finetune", "run", "--model", model, "--data", str(data), "--out", str(tmp_path / "o"), "--quiet", *extra, ok=False)
    assert r.exit_code == 2 and fragment in r.output and "Traceback" not in r.output, r.output


@pytest.mark.slow
def test_resume_after_a_kill_drops_torn_and_repeated_metrics(tiny_model, chat_data, tmp_path):
    out = tmp_path / "out"
    run_finetune(args(tiny_model, chat_data, out, iters=15))
    # as if killed after reporting iteration 20 past the last checkpoint (15), mid-way through a line
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"kind": "train", "iteration": 20, "train_loss": 1.0}) + "\n" + '{"kind": "val", "iter')
    run_finetune(args(tiny_model, chat_data, out, iters=30, resume=True))
    lines = (out / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line parses
    its = [m["iteration"] for m in rows if m["kind"] == "train"]
    assert its == sorted(set(its)) and its[-1] == 30  # no iteration reported twice


@pytest.mark.slow
def test_two_local_ranks_through_mlx_launch_write_one_set_of_outputs(tiny_model, chat_data, tmp_path, run_cli):
    out = tmp_path / "dp"
    r = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(out), "--iters", "20",
                "--num-layers", "-1", "--steps-per-eval", "10", "--learning-rate", "1e-2", "--launch", "2", "--json")
    summary = json.loads(r.stdout)
    assert summary["ranks"] == 2 and summary["best_iteration"] is not None and summary["best_val_loss"] < summary["base_val_loss"]
    assert json.loads((out / "finetune_config.json").read_text())["ranks"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len([m for m in rows if m["kind"] == "val"]) == 3  # iterations 0, 10, 20: written once, by rank 0 alone
    best = min((m for m in rows if m["kind"] == "val"), key=lambda m: m["val_loss"])
    assert best["iteration"] == summary["best_iteration"]  # the same best-iteration logic as one process
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "adapters.safetensors", "checkpoints", "finetune_config.json",
                                                      "loss.png", "metrics.jsonl", "summary.json"]


def test_the_two_host_launch_command_carries_everything_a_rank_needs(tmp_path):
    """No file local to this machine in the command `mlx.launch` runs on every host: the settings travel in it."""
    import tempfile

    from distill.finetune.launch import launch_command

    hosts = tmp_path / "hosts.json"
    hosts.write_text(json.dumps([{"ssh": "mac-a", "ips": ["10.0.0.1"]}, {"ssh": "mac-b", "ips": ["10.0.0.2"]}]))
    a = FinetuneArgs(model="/shared/models/qwen", data="/shared/data/r1", out="/shared/runs/r1", iters=50)
    cmd = launch_command(a, "mlx.launch", hostfile=hosts)
    assert cmd[:5] == ["mlx.launch", "--backend", "ring", "--hostfile", str(hosts)] and cmd[5] == "--"
    assert cmd[-3:-1] == ["-m", "distill.finetune.worker"] and FinetuneArgs(**json.loads(cmd[-1])) == a
    # nothing written to this machine's temp folder (the interpreter itself may live anywhere, a clone under /tmp too)
    assert not any(tempfile.gettempdir() in part for part in cmd[6:] if part != sys.executable)


@pytest.mark.slow
@pytest.mark.parametrize("fine_tune_type", ["lora", "full"])
def test_a_resumed_run_ends_with_the_weights_of_one_that_ran_straight_through(tiny_model, chat_data, tmp_path, fine_tune_type):
    """Issue 37: stopped at either of two checkpoints and resumed, the final weights equal an uninterrupted run's
    (max |diff| <= 1e-5): the optimizer's moments and step, the data position and the random key come back."""
    import mlx.core as mx

    kw = dict(iters=12, save_every=4, steps_per_eval=3, steps_per_report=2, seed=3, fine_tune_type=fine_tune_type, lora_dropout=0.1
              if fine_tune_type == "lora" else 0.0, learning_rate=5e-3)
    straight = tmp_path / "straight"
    run_finetune(args(tiny_model, chat_data, straight, **kw))
    want = mx.load(str(straight / "checkpoints" / "last.safetensors"))
    for stop in (4, 8):
        out = tmp_path / f"stopped-{stop}"
        run_finetune(args(tiny_model, chat_data, out, **{**kw, "iters": stop}))
        assert read_checkpoint_state(out).iteration == stop and (out / "checkpoints" / "optimizer.safetensors").exists()
        run_finetune(args(tiny_model, chat_data, out, **kw, resume=True))
        got = mx.load(str(out / "checkpoints" / "last.safetensors"))
        assert set(got) == set(want)
        diff = max(float(mx.max(mx.abs(got[k] - want[k]))) for k in want)
        assert diff <= 1e-5, (stop, diff)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        vals = [m["iteration"] for m in rows if m["kind"] == "val"]
        assert vals == sorted(set(vals)) and set(vals) >= {0, 3, 6, 9, 12}  # the schedule is on absolute iterations
