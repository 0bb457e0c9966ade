"""A tiny randomly initialised Qwen2 student (and its tokenizer), built on the spot, no download.

For tests, benchmarks and the offline demo: the same mlx-lm code paths as Qwen2.5-7B, at a size
that trains in seconds on a CPU. Its answers mean nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2's own pre-tokenizer split: transformers maps model_type qwen2 to its Qwen2 tokenizer and
# ignores a saved pre-tokenizer, so training with another split would tokenise differently.
QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# A reasoning model's template: the generation prompt opens the thinking block itself (R1 distills, QwQ)
THINKING_TEMPLATE = CHAT_TEMPLATE.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n<think>\n'")
THINK_TOKENS = ["<think>", "</think>"]
DEFAULT_TEXT = [
    "Step 1: Add the numbers. Step 2: Multiply both sides. Final answer: \\boxed{17}",
    "Solve the following competition problem. What is the probability? Express your answer as a common fraction.",
    "The sum of the roots is 9. The area is 81\\pi. The ratio is 3:5. sqrt(52) = 2\\sqrt{13}. (7,4) Tuesday No",
    "You are a careful competition mathematician. Solve the problem step by step and give the final answer.",
    "0123456789 + - * / = ( ) [ ] { } ^ _ \\frac \\sqrt \\pi \\boxed abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "system\nuser\nassistant\n",  # the chat template's role names, one token each
]


def build_tokenizer(out: Path, corpus: Iterable[str] = (), vocab_size: int = 512, thinking: bool = False) -> int:
    """Train a byte-level BPE with Qwen2's split; returns the tokenizer's size. `thinking`: <think> and
    </think> are tokens and the chat template opens the block, as a reasoning model's does."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL + (THINK_TOKENS if thinking else []), initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    texts = list(corpus) + DEFAULT_TEXT
    tok.train_from_iterator(texts * 4, trainer=trainer)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "chat_template": THINKING_TEMPLATE if thinking else CHAT_TEMPLATE, "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>", "bos_token": None, "unk_token": None, "model_max_length": 4096,
        "add_prefix_space": False, "clean_up_tokenization_spaces": False,
    }, indent=2))
    return tok.get_vocab_size()


def build_tiny_qwen2(out: Path | str, *, corpus: Iterable[str] = (), layers: int = 2, hidden: int = 64, seed: int = 0,
                     vocab: int = 512, thinking: bool = False) -> Path:
    """Write a tiny random Qwen2 (config, weights, tokenizer) to `out`; `mlx_lm.load(out)` then works offline."""
    import mlx.core as mx
    from mlx_lm.models.qwen2 import Model, ModelArgs
    from mlx_lm.utils import save_model

    out = Path(out)
    vocab = build_tokenizer(out, corpus, vocab_size=vocab, thinking=thinking)
    cfg = {
        "model_type": "qwen2", "hidden_size": hidden, "num_hidden_layers": layers, "intermediate_size": hidden * 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "vocab_size": vocab,
        "max_position_embeddings": 4096, "rope_theta": 10000.0, "tie_word_embeddings": True,
        "architectures": ["Qwen2ForCausalLM"], "eos_token_id": SPECIAL.index("<|im_end|>"),
    }
    mx.random.seed(seed)
    model = Model(ModelArgs.from_dict(cfg))
    mx.eval(model.parameters())
    save_model(out, model)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    return out
