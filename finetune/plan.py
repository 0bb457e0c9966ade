"""`finetune run --plan`: the memory a fine-tune needs, from the model's config.json and the export's
token lengths (no weights loaded), checked against the machine; `--probe` times a few real steps."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.plan.machine import Limit, human, memory_limit
from distill.plan.memory import ModelShape, TrainingSetting, training_memory
from distill.plan.record import Plan, duration

from .args import FinetuneArgs

PAD_TO = 32  # mlx-lm pads each batch to one plus a multiple of 32 tokens (iterate_batches)
VALIDATION_SHARE = 1 / 3  # a validation batch is a forward pass: about a third of a training step


@dataclass(frozen=True)
class Probe:
    seconds_per_iteration: float
    peak_bytes: int
    steps: int


def padded_length(longest: int, max_seq_length: int) -> int:
    """The model's input length for a batch whose longest example has `longest` tokens."""
    return min(1 + PAD_TO * ((longest + PAD_TO - 1) // PAD_TO), max_seq_length) - 1


def load_tokenizer(model: str):
    from mlx_lm.tokenizer_utils import load as load_tok

    path = Path(model).expanduser()
    if not path.is_dir():
        from huggingface_hub import snapshot_download

        try:
            path = Path(snapshot_download(model, allow_patterns=["*.json", "*.model", "*.txt", "*.jinja"], local_files_only=True))
        except Exception:
            return None
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        return None  # a config-only folder (such as the tests' 7B fixture)
    try:
        tok = load_tok(path)
    except Exception:
        return None
    return tok if getattr(tok, "chat_template", None) else None


def export_lengths(args: FinetuneArgs) -> tuple[list[int], str]:
    """Token lengths of the training rows, by the model's own chat template when its tokenizer is at hand,
    else by a stated approximation (4 characters a token)."""
    from .data import load_split, token_lengths

    rows = load_split(Path(args.data) / "train.jsonl")
    tok = load_tokenizer(args.model)
    if tok is not None:
        return token_lengths(rows, tok), "tokenised with the model's chat template"
    return [sum(len(m["content"]) for m in r["messages"]) // 4 + 8 * len(r["messages"]) for r in rows], "approximated (no tokenizer at hand: 4 characters a token)"


def longest_batch(lengths: list[int], batch_size: int) -> int:
    """The longest example of the longest batch mlx-lm will form (it batches examples sorted by length)."""
    ordered = sorted(lengths)
    batches = [ordered[i:i + batch_size] for i in range(0, len(ordered) - batch_size + 1, batch_size)]
    return max(b[-1] for b in batches) if batches else (max(ordered) if ordered else 0)


def setting_for(args: FinetuneArgs, shape: ModelShape, seq: int) -> TrainingSetting:
    layers = shape.layers if args.num_layers == -1 else min(args.num_layers, shape.layers)
    return TrainingSetting(batch=args.batch_size, seq=seq, fine_tune_type=args.fine_tune_type, rank=args.lora_rank, num_layers=layers,
                           grad_checkpoint=args.grad_checkpoint)


def cheapest_fit(shape: ModelShape, s: TrainingSetting, limit: int, lengths: list[int] | None, max_seq_length: int) -> str | None:
    """The least costly change that fits, as flags: checkpointing first (slower, same result), then smaller
    batches (more, noisier steps), then fewer adapted layers, then a shorter --max-seq-length (truncates data)."""
    def seq_for(batch: int) -> int:
        return padded_length(longest_batch(lengths, batch), max_seq_length) if lengths else s.seq

    def peak(t: TrainingSetting) -> int:
        return training_memory(shape, t)["peak"]

    tries: list[tuple[str, TrainingSetting]] = []
    gcs = [s.grad_checkpoint] + ([True] if not s.grad_checkpoint else [])
    for b in sorted({s.batch, *[x for x in (8, 4, 2, 1) if x < s.batch]}, reverse=True):
        for g in gcs:
            flags = (f"--batch-size {b} " if b != s.batch else "") + ("--grad-checkpoint" if g and not s.grad_checkpoint else "")
            tries.append((flags.strip(), replace(s, batch=b, grad_checkpoint=g, seq=seq_for(b))))
    for flags, t in tries[1:]:
        if peak(t) <= limit:
            return f"{flags} needs ~{human(peak(t))}"
    smallest = tries[-1][1]
    if s.fine_tune_type == "lora":
        for n in (8, 4, 2, 1):
            if n < smallest.num_layers and peak(replace(smallest, num_layers=n)) <= limit:
                flags = tries[-1][0] + f" --num-layers {n}"
                return f"{flags.strip()} needs ~{human(peak(replace(smallest, num_layers=n)))}"
    for cap in (8192, 4096, 2048, 1024, 512):
        t = replace(smallest, seq=min(smallest.seq, cap - 1))
        if cap - 1 < smallest.seq and peak(t) <= limit:
            return f"{(tries[-1][0] + f' --max-seq-length {cap}').strip()} needs ~{human(peak(t))} (truncates longer examples)"
    return None


def plan_finetune(args: FinetuneArgs, *, probe: bool = False, lengths: list[int] | None = None, limit: Limit | None = None) -> Plan:
    if args.method != "sft":
        raise DistillError(f"--plan estimates supervised fine-tunes; --method {args.method} is not planned yet")
    shape = ModelShape.read(args.model)
    if shape.bits is not None and args.fine_tune_type == "full":
        raise DistillError("--fine-tune-type full cannot train a quantized model; use lora", path=args.model)
    how = "given"
    if lengths is None:
        lengths, how = export_lengths(args)
    longest = longest_batch(lengths, args.batch_size)
    seq = padded_length(longest, args.max_seq_length)
    s = setting_for(args, shape, seq)
    mem = training_memory(shape, s)
    limit = limit or memory_limit()
    plan = Plan(kind="finetune", name=Path(args.out).name or str(args.out), peak_bytes=mem["peak"], limit_bytes=limit.bytes,
                limit_source=limit.source, fits=mem["peak"] <= limit.bytes)
    quant = f"{shape.bits}-bit, group {shape.group_size}" if shape.bits else {4: "float32", 2: "16-bit"}[shape.dtype_bytes]
    plan.add("model", f"{shape.params() / 1e9:.2f} B params" if shape.params() > 1e8 else f"{shape.params() / 1e6:.2f} M params",
             f"{shape.layers} layers, hidden {shape.hidden}, vocab {shape.vocab}")
    plan.add("weights", human(mem["weights"]), quant)
    kind = "LoRA" if s.fine_tune_type == "lora" else "full"
    plan.add("trainable", f"{mem['trainable_params'] / 1e6:.2f} M", f"{kind}, rank {s.rank}, {s.num_layers} layers" if kind == "LoRA" else kind)
    plan.add("grads + Adam", human(mem["optimizer"]), "gradient and two moments")
    plan.add("activations", human(mem["activations"]),
             f"batch {s.batch} x {seq} tokens, {'with' if s.grad_checkpoint else 'no'} grad checkpoint")
    other = training_memory(shape, replace(s, grad_checkpoint=not s.grad_checkpoint))
    plan.add("  " + ("without" if s.grad_checkpoint else "with") + " checkpoint", human(other["activations"]), f"peak {human(other['peak'])}")
    plan.add("logits", human(mem["logits"]), f"{s.batch} x {seq} x {shape.vocab} vocabulary")
    plan.add("peak", human(mem["peak"]), f"of {human(limit.bytes)} ({limit.source})")
    plan.add("longest example", f"{max(lengths) if lengths else 0} tokens", f"{len(lengths)} rows, {how}")
    plan.details = {"shape": shape.__dict__, "setting": s.__dict__, "memory": mem, "longest_batch_tokens": longest, "seq": seq,
                    "with_other_checkpointing": other, "lengths": how}
    if not plan.fits:
        plan.suggestion = cheapest_fit(shape, s, limit.bytes, lengths, args.max_seq_length)
    evals = args.iters // args.steps_per_eval + 1
    val_steps = evals * (args.val_batches if args.val_batches > 0 else 25)
    if probe:
        p = probe_training(args, lengths=None)
        plan.time_s = p.seconds_per_iteration * (args.iters + val_steps * VALIDATION_SHARE)
        plan.time_source = "probe"
        plan.add("time / iteration", f"{p.seconds_per_iteration:.2f} s", f"probe of {p.steps} real steps on the longest batch")
        plan.add("measured peak", human(p.peak_bytes), "mx.get_peak_memory() during the probe")
        plan.details["probe"] = p.__dict__
    plan.add("time", duration(plan.time_s), f"{args.iters} iterations + {evals} validations" if probe else "--plan --probe times a few real steps")
    return plan


def plan_or_none(args: FinetuneArgs) -> Plan | None:
    """The plan a run checks itself against, or None where no estimate can be made (a model id not yet
    downloaded, an architecture whose config lacks the widths): the run then goes ahead as before."""
    try:
        return plan_finetune(args)
    except DistillError:
        return None


def probe_training(args: FinetuneArgs, *, lengths: Any = None, steps: int = 4, rows: list[dict] | None = None) -> Probe:
    """A few real training steps (mlx-lm's train) on the longest batch of the export: seconds per step
    after the first, and MLX's peak memory."""
    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_lm.tuner import TrainingArgs, linear_to_lora_layers, train
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.datasets import CacheDataset, ChatDataset

    from .data import load_split, token_lengths
    from .model import load_model

    model, tok = load_model(args.model)
    rows = rows if rows is not None else load_split(Path(args.data) / "train.jsonl")
    by_len = sorted(zip(token_lengths(rows, tok), range(len(rows))))
    longest = [rows[i] for _, i in by_len[-args.batch_size:]]
    while len(longest) < args.batch_size:
        longest.append(longest[-1])
    ds = CacheDataset(ChatDataset(longest, tok, chat_key="messages", mask_prompt=args.mask_prompt))
    layers = len(model.layers) if args.num_layers == -1 else min(args.num_layers, len(model.layers))
    if args.fine_tune_type == "lora":
        model.freeze()
        linear_to_lora_layers(model, layers, {"rank": args.lora_rank, "scale": args.lora_scale, "dropout": args.lora_dropout})
    block = type(model.layers[0])
    original_call = block.__call__  # mlx-lm's grad_checkpoint patches the block class for the process: undo it after

    class Times(TrainingCallback):
        def __init__(self):
            self.marks: list[float] = []

        def on_train_loss_report(self, info):
            self.marks.append(time.perf_counter())

    cb = Times()
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArgs(batch_size=args.batch_size, iters=steps, val_batches=1, steps_per_report=1, steps_per_eval=10**9,
                             steps_per_save=10**9, max_seq_length=args.max_seq_length, adapter_file=str(Path(tmp) / "a.safetensors"),
                             grad_checkpoint=args.grad_checkpoint)
        import contextlib
        import io

        mx.clear_cache()
        mx.reset_peak_memory()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                train(model=model, optimizer=optim.Adam(learning_rate=args.learning_rate), train_dataset=ds, val_dataset=ds, args=targs,
                      training_callback=cb)
        finally:
            block.__call__ = original_call
        peak = int(mx.get_peak_memory())
    gaps = [b - a for a, b in zip(cb.marks, cb.marks[1:])] or [0.0]
    return Probe(seconds_per_iteration=statistics.median(gaps), peak_bytes=peak, steps=steps)
