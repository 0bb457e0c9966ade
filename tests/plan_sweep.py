"""The memory sweep shared by the slow-tier test and `bench/plan.py`: tiny Qwen2 models of several widths,
depths and dtypes, LoRA and full, batch 1-8, sequence 64-512, checkpointing on and off; each case's
estimate (`finetune.plan.plan_finetune`, config only) beside a probe of real mlx-lm training steps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from distill.finetune.args import FinetuneArgs
from distill.plan.machine import Limit


@dataclass(frozen=True)
class Case:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    batch: int
    seq: int
    fine_tune_type: str = "lora"
    grad_checkpoint: bool = False
    num_layers: int = -1
    dtype: str = "float32"  # float32 | bfloat16 | q4

    @property
    def label(self) -> str:
        nl = "" if self.num_layers == -1 else f" top{self.num_layers}"
        return (f"h{self.hidden} L{self.layers} {self.dtype} {self.fine_tune_type}{nl} b{self.batch} s{self.seq}"
                + (" gc" if self.grad_checkpoint else ""))


SHAPES = [(64, 2, 4, 2, 128), (128, 4, 4, 2, 256), (128, 2, 8, 4, 640), (192, 3, 6, 2, 512)]


def cases(full: bool = True) -> list[Case]:
    """Every shape at the corners of batch and sequence, both methods, checkpointing on and off; plus
    16-bit and 4-bit bases and LoRA on the top layers only."""
    out = []
    for h, n, heads, kv, f in SHAPES:
        for batch, seq in ((1, 64), (8, 64), (1, 512), (4, 256), (8, 512)):
            for ft in ("lora", "full"):
                for gc in (False, True):
                    if not full and (batch, seq) not in ((1, 64), (8, 512)):
                        continue
                    out.append(Case(h, n, heads, kv, f, batch, seq, ft, gc))
    for dtype in ("bfloat16", "q4"):
        for batch, seq in ((2, 128), (8, 512)):
            for gc in (False, True):
                out.append(Case(128, 4, 4, 2, 256, batch, seq, "lora", gc, dtype=dtype))
    for batch, seq in ((2, 256), (8, 512)):
        out.append(Case(128, 4, 4, 2, 256, batch, seq, "lora", False, num_layers=2))
    return out


def test_cases() -> list[Case]:
    """The slow tier's share of the sweep: each factor at both ends somewhere (four shapes, LoRA and full, batch 1
    and 8, sequence 64 and 512, checkpointing on and off, 16-bit and 4-bit bases, LoRA on the top layers only),
    in 8 cases that train in seconds each (16-bit and 4-bit bases are slow on the CPU backend: small shapes only)."""
    a, b, c, d = SHAPES
    return [Case(*a, 1, 64, "lora", False), Case(*a, 8, 512, "full", True), Case(*b, 4, 256, "lora", True),
            Case(*c, 2, 128, "full", False), Case(*d, 2, 256, "lora", False),
            Case(*b, 2, 128, "lora", False, dtype="bfloat16"), Case(*b, 2, 128, "lora", True, dtype="q4"),
            Case(*b, 2, 128, "lora", False, num_layers=2)]


def build_model(folder: Path, c: Case) -> Path:
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.models.qwen2 import Model, ModelArgs
    from mlx_lm.utils import save_model

    from distill.demo.tiny import SPECIAL, build_tokenizer

    if (folder / "config.json").exists():
        return folder
    vocab = build_tokenizer(folder, vocab_size=512)
    cfg = {"model_type": "qwen2", "hidden_size": c.hidden, "num_hidden_layers": c.layers, "intermediate_size": c.intermediate,
           "num_attention_heads": c.heads, "num_key_value_heads": c.kv_heads, "rms_norm_eps": 1e-6, "vocab_size": vocab,
           "max_position_embeddings": 4096, "rope_theta": 10000.0, "tie_word_embeddings": True, "architectures": ["Qwen2ForCausalLM"],
           "eos_token_id": SPECIAL.index("<|im_end|>")}
    mx.random.seed(0)
    model = Model(ModelArgs.from_dict(cfg))
    if c.dtype in ("bfloat16", "q4"):
        model.set_dtype(mx.bfloat16)
        cfg["torch_dtype"] = "bfloat16"
    if c.dtype == "q4":
        nn.quantize(model, group_size=64, bits=4)
        cfg["quantization"] = {"group_size": 64, "bits": 4}
    mx.eval(model.parameters())
    save_model(folder, model)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    return folder


def build_data(folder: Path, model: Path, seq: int, rows: int = 8) -> Path:
    """train/valid chat rows whose longest is just under `seq` tokens (so mlx-lm pads it to seq + 1)."""
    from distill.finetune.plan import load_tokenizer

    tok = load_tokenizer(str(model))
    folder.mkdir(parents=True, exist_ok=True)

    def row(k: int) -> dict:
        return {"messages": [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "Step 1: add. " * k}]}

    def n_tokens(k: int) -> int:
        return len(tok.apply_chat_template(row(k)["messages"], return_dict=False))

    k = 1
    while n_tokens(k + 1) <= seq:
        k += 1
    data = [row(max(1, k - i)) for i in range(rows)]
    for split in ("train", "valid"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    return folder


def args_for(c: Case, model: Path, data: Path, out: Path) -> FinetuneArgs:
    return FinetuneArgs(model=str(model), data=str(data), out=str(out), batch_size=c.batch, fine_tune_type=c.fine_tune_type,
                        grad_checkpoint=c.grad_checkpoint, num_layers=c.num_layers, max_seq_length=1024, learning_rate=1e-5)


def run_case(root: Path, c: Case) -> dict:
    """Estimate and measurement of one case, in bytes, with their ratio."""
    from distill.finetune.plan import plan_finetune, probe_training

    model = build_model(root / f"m{c.hidden}-{c.layers}-{c.heads}-{c.kv_heads}-{c.intermediate}-{c.dtype}", c)
    data = build_data(root / f"d{c.seq}-{model.name}", model, c.seq)
    args = args_for(c, model, data, root / "out")
    plan = plan_finetune(args, limit=Limit(1 << 50, "test"))
    probe = probe_training(args, steps=3)
    return {"case": c.label, "estimate": plan.peak_bytes, "measured": probe.peak_bytes, "ratio": plan.peak_bytes / probe.peak_bytes,
            "seq": plan.details["seq"], "seconds_per_iteration": probe.seconds_per_iteration}
