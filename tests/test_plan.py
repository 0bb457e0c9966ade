"""`--plan` on finetune, eval, corpus and study: estimates from config.json alone, a refusal (exit 2) before any
model load when the machine is too small, and (slow tier) the estimate against MLX's measured peak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill.plan.machine import parse_size
from distill.plan.memory import ModelShape, TrainingSetting, training_memory

FIXTURES = Path(__file__).parent / "fixtures"
QWEN7B = FIXTURES / "qwen2.5-7b-instruct-4bit"


def _no_model_load(monkeypatch):
    """Loading weights fails the test: a plan and a refusal come from config.json and tokenizers only."""
    import mlx_lm

    def refuse(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(mlx_lm, "load", refuse)


def test_the_7b_students_shape_from_its_public_config():
    s = ModelShape.read(QWEN7B)
    assert (s.hidden, s.layers, s.heads, s.kv_heads, s.head_dim, s.vocab, s.bits) == (3584, 28, 28, 4, 128, 152064, 4)
    assert 7.60e9 < s.params() < 7.63e9  # Qwen2.5-7B: 7.61 B parameters
    assert 4.1e9 < s.weight_bytes() < 4.4e9  # mlx-community's 4-bit files are about 4.3 GB
    # a LoRA of rank 8 on the top 16 blocks: 8 x (in + out) over the seven linear layers
    assert s.lora_params(8, 16) == 16 * 8 * (2 * 3584 + 2 * (3584 + 512) + 2 * 3584 + 2 * (3584 + 18944) + (18944 + 3584))


def test_checkpointing_smaller_batches_and_fewer_layers_each_lower_the_peak():
    s = ModelShape.read(QWEN7B)
    base = TrainingSetting(batch=4, seq=1024, num_layers=16)
    peak = training_memory(s, base)["peak"]
    for cheaper in (TrainingSetting(batch=4, seq=1024, num_layers=16, grad_checkpoint=True), TrainingSetting(batch=1, seq=1024, num_layers=16),
                    TrainingSetting(batch=4, seq=1024, num_layers=4), TrainingSetting(batch=4, seq=512, num_layers=16)):
        assert training_memory(s, cheaper)["peak"] < peak, cheaper
    assert training_memory(s, TrainingSetting(batch=4, seq=8192, num_layers=16))["peak"] > 4 * peak  # attention grows with the square


@pytest.mark.parametrize("text,expected", [("16GB", 16 * 10**9), ("512 MB", 512 * 10**6), ("1.5g", 1_500_000_000), ("2GiB", 2 * 2**30), ("1000", 1000)])
def test_memory_limit_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "16 parsecs", "-1GB", "GB"])
def test_memory_limit_sizes_refused(text):
    from distill.errors import DistillError

    with pytest.raises(DistillError, match="DISTILL_MEMORY_LIMIT"):
        parse_size(text)


def test_finetune_plan_on_the_tiny_student_loads_no_weights_and_writes_nothing(run_cli, tiny_model, chat_data, tmp_path, monkeypatch):
    _no_model_load(monkeypatch)
    out = tmp_path / "run"
    r = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(out), "--plan", "--json")
    plan = json.loads(r.output)
    mem = plan["details"]["memory"]
    assert plan["kind"] == "finetune" and plan["fits"] and plan["peak_bytes"] == mem["peak"]
    assert mem["peak"] == mem["weights"] + mem["optimizer"] + mem["activations"] + mem["logits"]
    assert plan["details"]["lengths"] == "tokenised with the model's chat template"
    assert not out.exists()
    table = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(out), "--plan").output
    assert all(len(line) <= 80 for line in table.splitlines())
    assert "peak" in table and "activations" in table and "with checkpoint" in table


def test_finetune_plan_of_the_7b_student_from_config_only(run_cli, chat_data, tmp_path):
    r = run_cli("finetune", "run", "--model", str(QWEN7B), "--data", str(chat_data), "--out", str(tmp_path / "o"), "--plan", "--json",
                "--batch-size", "4")
    plan = json.loads(r.output)
    assert plan["peak_bytes"] > 4.1e9 and plan["details"]["memory"]["weights"] < plan["peak_bytes"]
    assert plan["details"]["lengths"].startswith("approximated")  # no tokenizer in a config-only folder: said so


def test_a_finetune_that_does_not_fit_is_refused_before_loading_with_the_cheapest_change(run_cli, tiny_model, chat_data, tmp_path, monkeypatch):
    from distill.finetune.args import FinetuneArgs
    from distill.finetune.plan import plan_finetune
    from distill.plan.machine import Limit

    _no_model_load(monkeypatch)
    args = FinetuneArgs(model=str(tiny_model), data=str(chat_data), out=str(tmp_path / "o"), batch_size=8)
    full = plan_finetune(args, limit=Limit(1 << 40, "test")).peak_bytes
    small = plan_finetune(args.model_copy(update={"batch_size": 1, "grad_checkpoint": True}), limit=Limit(1 << 40, "test")).peak_bytes
    assert small < full
    monkeypatch.setenv("DISTILL_MEMORY_LIMIT", str((small + full) // 2))
    r = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(tmp_path / "o"), "--batch-size", "8", ok=False)
    assert r.exit_code == 2
    line = r.output.strip().splitlines()[-1]
    assert "needs ~" in line and "DISTILL_MEMORY_LIMIT" in line and "--force" in line
    flags = line.split(": ", 2)[-1].split(" needs")[0]
    assert "--batch-size" in flags or "--grad-checkpoint" in flags
    assert not (tmp_path / "o" / "metrics.jsonl").exists()
    # the suggested flags do fit
    b = int(flags.split("--batch-size ")[1].split()[0]) if "--batch-size" in flags else 8
    fixed = args.model_copy(update={"batch_size": b, "grad_checkpoint": "--grad-checkpoint" in flags})
    assert plan_finetune(fixed, limit=Limit(1 << 40, "test")).peak_bytes <= (small + full) // 2
    monkeypatch.setenv("DISTILL_MEMORY_LIMIT", "1KB")
    r = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(tmp_path / "o"), ok=False)
    assert r.exit_code == 2 and "no setting" in r.output


def test_a_bad_memory_limit_is_one_line(run_cli, tiny_model, chat_data, tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_MEMORY_LIMIT", "lots")
    r = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(tmp_path / "o"), "--plan", ok=False)
    assert r.exit_code == 2 and "DISTILL_MEMORY_LIMIT='lots'" in r.output and "Traceback" not in r.output


def _sample_problems(run_cli):
    from distill.demo.samples import samples_dir

    run_cli("problems", "import", str(samples_dir()))


def test_eval_plan_gives_the_kv_cache_and_the_largest_batch_that_fits(run_cli, tiny_model, tmp_path, monkeypatch):
    from distill.plan.memory import generation_memory

    _no_model_load(monkeypatch)
    _sample_problems(run_cli)
    base = ["eval", "run", "--model", str(tiny_model), "--problems", "obryan", "--out", str(tmp_path / "e"), "--max-tokens", "256",
            "--runs", "2", "--batch-size", "8"]
    plan = json.loads(run_cli(*base, "--plan", "--json").output)
    shape = ModelShape.read(tiny_model)
    assert plan["kind"] == "eval" and plan["peak_bytes"] == plan["details"]["memory"]["peak"]
    assert plan["details"]["memory"]["kv_cache"] == shape.kv_cache_bytes(8, plan["details"]["kv_tokens"])
    n = int(plan["rows"][0]["value"])
    assert plan["tokens"] == n * 256 and n % 2 == 0
    # a limit between batch 2 and batch 8: refused, naming the largest batch size that fits
    span = plan["details"]["kv_tokens"]
    longest = int(plan["rows"][2]["value"].split()[0])
    two = generation_memory(shape, batch=2, prompt=longest, max_tokens=span - longest)["peak"]
    three = generation_memory(shape, batch=3, prompt=longest, max_tokens=span - longest)["peak"]
    monkeypatch.setenv("DISTILL_MEMORY_LIMIT", str((two + three) // 2))
    r = run_cli(*base, ok=False)
    assert r.exit_code == 2 and "--batch-size 2 needs" in r.output
    assert not (tmp_path / "e" / "responses.jsonl").exists()


def test_corpus_plan_counts_what_is_left_and_prices_it(run_cli, monkeypatch):
    _sample_problems(run_cli)
    monkeypatch.setenv("DISTILL_SOLVER__PRICE_INPUT", "0.55")
    monkeypatch.setenv("DISTILL_SOLVER__PRICE_OUTPUT", "2.19")
    monkeypatch.setenv("DISTILL_VERIFIER__PRICE_INPUT", "0.27")
    monkeypatch.setenv("DISTILL_VERIFIER__PRICE_OUTPUT", "1.10")
    plan = json.loads(run_cli("corpus", "run", "--years", "2001-2002", "--plan", "--json").output)
    todo = plan["details"]["to_run"]
    assert todo > 0 and plan["details"]["done"] == 0 and plan["details"]["history"] == 0
    assert plan["time_source"] == "default" and plan["cost_usd"] > 0
    from distill.config import load_settings

    s = load_settings()
    expected = s.solver.cost(400 * todo, int(s.solver.max_tokens / 2 * todo)) + s.verifier.cost(1500 * todo, int(s.verifier.max_tokens / 2 * todo))
    assert plan["cost_usd"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_corpus_plan_reads_the_stores_history(recorded_corpus, run_cli):
    plan = json.loads(run_cli("corpus", "run", "--years", "2001-2003", "--plan", "--json").output)
    assert plan["details"]["history"] > 0 and plan["time_source"] == "history"
    assert plan["details"]["done"] > 0


def test_study_plan_lists_pending_steps_and_a_study_that_does_not_fit_is_refused(workspace, run_cli, tmp_path, monkeypatch):
    from distill.demo.cli import demo_config
    from distill.demo.world import build_world
    from distill.workspace import Workspace

    Workspace(workspace).ensure()
    world = build_world(workspace)
    config = demo_config(workspace, model=str(world["model"]), base_url="http://127.0.0.1:9/v1", live=False)
    _no_model_load(monkeypatch)
    plan = json.loads(run_cli("study", "run", "--config", str(config), "--plan", "--json").output)
    names = [p["name"] for p in plan["steps"]]
    assert "corpus" in names and "finetune:R1" in names and "evaluate:base" in names and "report" in names
    ft = next(p for p in plan["steps"] if p["name"] == "finetune:R1")
    assert ft["peak_bytes"] and plan["peak_bytes"] == max(p["peak_bytes"] or 0 for p in plan["steps"])
    ev = next(p for p in plan["steps"] if p["name"] == "evaluate:base")
    assert ev["peak_bytes"] and int(ev["rows"][0]["value"]) > 0  # planned from the problem files before the import step ran
    monkeypatch.setenv("DISTILL_MEMORY_LIMIT", "1KB")
    r = run_cli("study", "run", "--config", str(config), ok=False)
    line = r.output.replace("\n", " ")
    assert r.exit_code == 2 and "needs ~" in line and line.startswith("Error: finetune:") and "study run --plan" in line
    assert not (workspace / "problems.jsonl").exists()  # refused before the first step


def test_probe_goes_with_plan(run_cli, tiny_model, chat_data, tmp_path):
    r = run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(tmp_path / "o"), "--probe", ok=False)
    assert r.exit_code == 2 and "--probe goes with --plan" in r.output


@pytest.mark.slow
def test_finetune_probe_times_real_steps(run_cli, tiny_model, chat_data, tmp_path):
    plan = json.loads(run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(chat_data), "--out", str(tmp_path / "o"),
                              "--plan", "--probe", "--json", "--iters", "40").output)
    probe = plan["details"]["probe"]
    assert probe["seconds_per_iteration"] > 0 and probe["peak_bytes"] > 0 and plan["time_s"] > 40 * probe["seconds_per_iteration"] * 0.99
    assert not (tmp_path / "o" / "adapters.safetensors").exists()


@pytest.mark.slow
def test_the_estimate_is_within_25_percent_of_mlx_peak_memory(tmp_path):
    """Tiny Qwen2 of four widths and depths, LoRA and full, batch 1-8, sequence 64-512, checkpointing on and off,
    16-bit and 4-bit bases: every estimate within 25% of mx.get_peak_memory() over real mlx-lm training steps."""
    from tests.plan_sweep import run_case, test_cases

    results = [run_case(tmp_path, c) for c in test_cases()]
    bad = [(r["case"], round(r["ratio"], 3)) for r in results if not 0.75 <= r["ratio"] <= 1.25]
    assert not bad, bad


def test_the_guides_7b_figures_are_the_estimators():
    """docs/planning.md and the README quote the plan of the 7B student: each figure is what the estimator gives."""
    from dataclasses import replace

    from distill.plan.machine import human

    guide = (Path(__file__).parents[1] / "docs" / "planning.md").read_text(encoding="utf-8")
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    s = ModelShape.read(QWEN7B)
    for seq in (1024, 8192, 16384):
        t = TrainingSetting(batch=4, seq=seq, num_layers=16)
        row = next(line for line in guide.splitlines() if line.startswith(f"| {seq:,} tokens"))
        for setting in (t, replace(t, grad_checkpoint=True), replace(t, batch=1, grad_checkpoint=True)):
            assert f"| {human(training_memory(s, setting)['peak'])} |" in row, (seq, setting)
    t = TrainingSetting(batch=4, seq=1024, num_layers=16)
    for setting in (t, replace(t, grad_checkpoint=True), replace(t, batch=1, grad_checkpoint=True)):
        assert f"~{human(training_memory(s, setting)['peak'])}" in readme
    for layers in (16, 4):
        assert f"{human(training_memory(s, TrainingSetting(batch=1, seq=7500, num_layers=layers))['peak'])} with" in guide
