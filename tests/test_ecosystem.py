"""Issue 42: the exports and adapters load in the ecosystem's own tools as they are, each run as a user types it
(a subprocess), on the tiny model, for a few iterations. The README's "Use the export elsewhere" shows these."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

PY = sys.executable
ENV = {**os.environ, "MLX_DISABLE_COMPILE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    r = subprocess.run([PY, *args], capture_output=True, text=True, env=ENV, timeout=timeout)
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-3000:])
    return r


@pytest.fixture
def exports(recorded_corpus, run_cli, tmp_path):
    run_cli("corpus", "run", "--year", "2003", "--quiet")  # the recorded teacher is still up: a year for the test split
    mlx, dpo = tmp_path / "mlx", tmp_path / "dpo"
    run_cli("corpus", "export", "--out", str(mlx), "--source", "sample", "--valid-years", "2002", "--test-years", "2003")
    run_cli("corpus", "export", "--out", str(dpo), "--format", "dpo", "--source", "sample", "--valid-years", "2002", "--test-years", "2003")
    return mlx, dpo


@pytest.mark.slow
def test_an_export_without_a_test_split_writes_no_empty_file(recorded_corpus, run_cli, tmp_path, tiny_model):
    out = tmp_path / "e"
    r = run_cli("corpus", "export", "--out", str(out), "--source", "sample", "--valid-years", "2002", "--test-years", "2003")
    assert not (out / "test.jsonl").exists() and "test: not written, held-out years have no transcripts" in " ".join(r.output.split())
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["test"] == 0 and "held-out years" in m["empty_splits"]["test"]
    run("-m", "mlx_lm", "lora", "--model", str(tiny_model), "--train", "--data", str(out), "--iters", "3", "--batch-size", "2",
        "--num-layers", "-1", "--steps-per-eval", "3", "--val-batches", "1", "--adapter-path", str(tmp_path / "a"))


@pytest.mark.slow
def test_the_ecosystems_tools_load_distills_folders(exports, tiny_model, tmp_path, run_cli):
    mlx, dpo = exports
    assert (mlx / "test.jsonl").exists() and (dpo / "train.jsonl").exists()
    # mlx-lm's own LoRA trainer on the chat export, with its test split
    run("-m", "mlx_lm", "lora", "--model", str(tiny_model), "--train", "--test", "--data", str(mlx), "--iters", "3", "--batch-size", "2",
        "--num-layers", "-1", "--steps-per-eval", "3", "--val-batches", "1", "--test-batches", "1", "--adapter-path", str(tmp_path / "lora"))
    # mlx-lm-lora's DPO and ORPO on the preference export
    # (on MLX's CPU backend, mlx-lm-lora 5.10 ends in a KeyError of its own: the distill module runs its main() there)
    trainer = "mlx_lm_lora.train" if sys.platform == "darwin" else "distill.finetune.mlx_lm_lora_cpu"
    for mode in ("dpo", "orpo"):
        run("-m", trainer, "--model", str(tiny_model), "--train", "--train-mode", mode, "--data", str(dpo), "--iters", "2",
            "--batch-size", "1", "--num-layers", "-1", "--steps-per-eval", "2", "--val-batches", "1", "--adapter-path", str(tmp_path / mode))
    # a distill adapter in mlx-lm's generate, fuse and server
    adapter = tmp_path / "distill-adapter"
    run_cli("finetune", "run", "--model", str(tiny_model), "--data", str(mlx), "--out", str(adapter), "--iters", "4", "--batch-size", "2",
            "--num-layers", "-1", "--steps-per-eval", "2", "--val-batches", "1", "--quiet")
    run("-m", "mlx_lm", "generate", "--model", str(tiny_model), "--adapter-path", str(adapter), "--prompt", "What is 2 + 2?", "--max-tokens", "5")
    fused = tmp_path / "fused"
    run("-m", "mlx_lm", "fuse", "--model", str(tiny_model), "--adapter-path", str(adapter), "--save-path", str(fused))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([PY, "-m", "mlx_lm", "server", "--model", str(fused), "--host", "127.0.0.1", "--port", str(port)], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.25)
        body = json.dumps({"model": "default_model", "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 5}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            reply = json.loads(resp.read())
        assert reply["choices"][0]["message"]["role"] == "assistant"
    finally:
        server.terminate()
        server.wait(timeout=30)
