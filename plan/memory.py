"""Memory of a fine-tune or a generation, from a model's `config.json` alone (no weights loaded).

Weights, trainable parameters, gradients and Adam's moments are counted exactly from the shapes.
Activations are counted per token as multiples of the layer's widths (hidden, intermediate, KV,
attention scores) times the activation dtype; the multiples were measured with `mx.get_peak_memory()`
over a sweep of tiny Qwen2 models on MLX 0.32 (`bench/plan.py` prints estimate against measurement,
the slow tier checks 25%). Counts are bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import DistillError

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class Multiples:
    """Elements kept per token for the backward pass, as multiples of a width. `intermediate` and `scores`
    (heads x sequence: the attention probabilities) are in the activation dtype; `hidden_f32` (residuals,
    norms) and `logits` (the logits, their log-softmax and its gradient) are float32 whatever the model's dtype."""

    intermediate: float
    scores: float
    hidden_f32: float
    logits: float


# Fitted by least squares on bench/plan.py's sweep (tiny Qwen2 at float32, bfloat16 and 4-bit; MLX 0.32, CPU
# backend, compiled and not): without checkpointing every adapted block keeps all three widths; with it every
# block keeps its float32 residual and one block at a time is recomputed in full.
PER_BLOCK = Multiples(intermediate=7.8, scores=1.75, hidden_f32=3.1, logits=5.25)
CHECKPOINTED = Multiples(intermediate=12.0, scores=3.1, hidden_f32=4.2, logits=2.1)
OPTIMIZER_COPIES = 2.7  # gradient + Adam's two moments per trainable parameter (under 3: the update frees as it goes)


@dataclass(frozen=True)
class ModelShape:
    """The widths of a Qwen2/Llama-style decoder, as its config.json states them."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    dtype_bytes: int
    bits: int | None = None  # weights quantized to this many bits (mlx-community's "quantization" block)
    group_size: int = 64
    name: str = ""

    @classmethod
    def from_config(cls, config: dict[str, Any], name: str = "") -> "ModelShape":
        try:
            hidden = int(config["hidden_size"])
            heads = int(config["num_attention_heads"])
            q = config.get("quantization") or config.get("quantization_config") or {}
            return cls(
                hidden=hidden, layers=int(config["num_hidden_layers"]), heads=heads,
                kv_heads=int(config.get("num_key_value_heads") or heads), head_dim=int(config.get("head_dim") or hidden // heads),
                intermediate=int(config["intermediate_size"]), vocab=int(config["vocab_size"]),
                tied=bool(config.get("tie_word_embeddings", True)),
                dtype_bytes=DTYPE_BYTES.get(str(config.get("torch_dtype") or config.get("dtype") or "float32"), 4),
                bits=int(q["bits"]) if q.get("bits") else None, group_size=int(q.get("group_size", 64)), name=name)
        except (KeyError, TypeError, ValueError) as exc:
            raise DistillError(f"config.json lacks a width this plan needs ({exc})") from None

    @classmethod
    def read(cls, model: str | Path) -> "ModelShape":
        """From a local model folder, or a Hugging Face id already in the local cache (no download)."""
        path = Path(model).expanduser()
        if not path.exists() and str(model).count("/") == 1:
            try:
                from huggingface_hub import try_to_load_from_cache

                found = try_to_load_from_cache(str(model), "config.json")
            except Exception:
                found = None
            if isinstance(found, str):
                path = Path(found).parent
        cfg = path / "config.json" if path.is_dir() else path
        if not cfg.is_file():
            raise DistillError("no config.json to plan from (a local model folder, or an id downloaded once)", path=model)
        try:
            return cls.from_config(json.loads(cfg.read_text(encoding="utf-8")), name=str(model))
        except json.JSONDecodeError as exc:
            raise DistillError(f"config.json is not JSON ({exc.msg})", path=cfg) from None

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of each linear layer of one block: q, k, v, o, gate, up, down."""
        d, q, kv, f = self.hidden, self.heads * self.head_dim, self.kv_dim, self.intermediate
        return [(d, q), (d, kv), (d, kv), (q, d), (d, f), (d, f), (f, d)]

    def layer_params(self) -> int:
        return sum(i * o for i, o in self.linear_shapes()) + self.heads * self.head_dim + 2 * self.kv_dim + 2 * self.hidden

    def params(self) -> int:
        return self.layers * self.layer_params() + self.vocab * self.hidden * (1 if self.tied else 2) + self.hidden

    def _matrix_bytes(self, n: int) -> float:
        if self.bits is None:
            return n * self.dtype_bytes
        return n * self.bits / 8 + n / self.group_size * 2 * self.dtype_bytes  # packed weights + a scale and a bias per group

    def weight_bytes(self) -> int:
        matrices = self.layers * sum(i * o for i, o in self.linear_shapes()) + self.vocab * self.hidden * (1 if self.tied else 2)
        vectors = self.params() - matrices
        return int(self._matrix_bytes(matrices) + vectors * self.dtype_bytes)

    def lora_params(self, rank: int, num_layers: int) -> int:
        return min(num_layers, self.layers) * sum(rank * (i + o) for i, o in self.linear_shapes())

    def kv_cache_bytes(self, batch: int, tokens: int) -> int:
        return batch * tokens * self.layers * 2 * self.kv_dim * self.dtype_bytes


@dataclass(frozen=True)
class TrainingSetting:
    batch: int
    seq: int  # the longest batch's padded length, in tokens
    fine_tune_type: str = "lora"
    rank: int = 8
    num_layers: int = 16
    grad_checkpoint: bool = False


def training_memory(shape: ModelShape, s: TrainingSetting) -> dict[str, int]:
    """Bytes by part, and `peak`: weights + gradients and optimizer state + activations + logits."""
    if s.fine_tune_type == "full":
        trainable, t_bytes = shape.params(), shape.dtype_bytes
        through = shape.layers  # every block's activations feed a weight gradient
    else:
        trainable, t_bytes = shape.lora_params(s.rank, s.num_layers), 4  # LoRA matrices are float32
        through = min(s.num_layers, shape.layers)  # blocks below the lowest adapter need no backward
    tokens = s.batch * s.seq
    m = CHECKPOINTED if s.grad_checkpoint else PER_BLOCK
    recomputed = 1 if s.grad_checkpoint else through  # blocks whose full activations are alive at once
    act = tokens * (recomputed * (m.intermediate * shape.intermediate + m.scores * shape.heads * s.seq) * shape.dtype_bytes
                    + through * m.hidden_f32 * shape.hidden * 4)
    parts = {
        "weights": shape.weight_bytes(),
        "trainable_params": trainable,
        "optimizer": int(trainable * t_bytes * OPTIMIZER_COPIES),
        "activations": int(act),
        "logits": int(tokens * shape.vocab * m.logits * 4),
    }
    parts["peak"] = parts["weights"] + parts["optimizer"] + parts["activations"] + parts["logits"]
    return parts


def generation_memory(shape: ModelShape, *, batch: int, prompt: int, max_tokens: int, prefill_step: int = 2048) -> dict[str, int]:
    """Bytes of a batched generation: weights, the KV cache at prompt + max_tokens, and the prefill's logits."""
    parts = {
        "weights": shape.weight_bytes(),
        "kv_cache": shape.kv_cache_bytes(batch, prompt + max_tokens),
        "logits": int(batch * min(prompt, prefill_step) * shape.vocab * 4),
    }
    parts["peak"] = sum(parts.values())
    return parts
