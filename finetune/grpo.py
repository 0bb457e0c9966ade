"""GRPO through mlx-lm-lora with distill's grader as the reward: a group of completions per problem, each
scored against the official key, the policy pushed toward the group's better ones. Watched and kept like
every run, except that the kept adapter is the one with the best mean validation reward (GRPO's loss is
measured against group-normalised advantages, so it says little about progress)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distill.corpus.prompt import StudentPrompt
from distill.io import atomic_write_jsonl, write_record
from distill.problems.schema import Problem

from .args import FinetuneArgs
from .callbacks import BestAdapterCallback, EarlyStop, read_metrics
from .data import load_rows, train_and_valid
from .policy import prepare_policy, quiet_trainer, trainer_import_error
from .group_watch import FlatStop, GroupWatch
from .records import FinetuneSummary, RewardReport
from .rewards import reward_functions

PROMPT_KEYS = ("prompt", "answer")


def split_prompt_set(train: Sequence[Problem], valid: Sequence[Problem] | None) -> tuple[list[Problem], list[Problem]]:
    """Training and validation problems; without a validation set, every fifth training problem is held out."""
    if valid:
        held = {p.id for p in valid}
        return [p for p in train if p.id not in held], list(valid)
    return [p for i, p in enumerate(train) if i % 5 != 4], [p for i, p in enumerate(train) if i % 5 == 4]


def write_prompt_set(train: Sequence[Problem], valid: Sequence[Problem], folder: Path, prompts_dir: str | Path | None = None) -> Path:
    """train.jsonl and valid.jsonl of `{id, system, prompt, answer}`: the student prompt every export and
    evaluation uses, and the official key the reward grades against."""
    student = StudentPrompt.load(prompts_dir)
    for split, problems in (("train", train), ("valid", valid)):
        rows = []
        for p in problems:
            system, user = (m["content"] for m in student.messages(p))
            rows.append({"id": p.id, "system": system, "prompt": user, "answer": p.answer})
        atomic_write_jsonl(folder / f"{split}.jsonl", rows)
    return folder


def load_prompts(folder: Path, split: str) -> list[dict[str, Any]]:
    return load_rows(folder, split, PROMPT_KEYS, "(give --problems, or a folder of {prompt, answer} rows)")


def _dataset(rows: list[dict[str, Any]], tok) -> list[tuple]:
    """mlx-lm-lora's GRPO examples, the prompt rendered by the chat template as evaluation renders it."""
    out = []
    for r in rows:
        msgs = ([{"role": "system", "content": r["system"]}] if r.get("system") else []) + [{"role": "user", "content": r["prompt"]}]
        out.append((tok.apply_chat_template(msgs, add_generation_prompt=True), tok.encode(r["answer"]), r["prompt"], r["answer"], r.get("id")))
    return out


class RewardCallback(BestAdapterCallback):
    """Keeps the adapter with the highest mean validation reward; the validation loss is recorded beside it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.val_metrics: dict[str, float] = {}

    def on_val_loss_report(self, info: dict[str, Any]) -> None:
        super().on_val_loss_report({**info, **{f"val_{k}": v for k, v in self.val_metrics.items()}})

    def score(self, info: dict[str, Any]) -> float:
        return -float(info["val_total_rewards_mean"])


@contextlib.contextmanager
def _reported_validation(cb: RewardCallback, watch: GroupWatch | None = None):
    """mlx-lm-lora hands its callback only the validation loss: keep the rewards its evaluation measured too
    (and tell the group watch that these rewards are not a training step)."""
    from mlx_lm_lora.trainer import grpo_trainer

    original = grpo_trainer.evaluate_grpo

    def evaluate(*a: Any, **kw: Any):
        if watch is not None:
            watch.validating = True
        try:
            loss, ntokens, metrics = original(*a, **kw)
        finally:
            if watch is not None:
                watch.validating = False
        cb.val_metrics = dict(metrics)
        return loss, ntokens, metrics

    grpo_trainer.evaluate_grpo = evaluate
    try:
        yield
    finally:
        grpo_trainer.evaluate_grpo = original


def run_grpo(args: FinetuneArgs, on_report: Callable[[dict[str, Any]], None] | None = None, *, grader=None) -> FinetuneSummary:
    """GRPO on a prompt set with keys; the reward is distill's grader (and/or the answer format)."""
    import mlx.optimizers as optim

    try:
        from mlx_lm_lora.trainer.grpo_trainer import GRPOTrainingArgs, train_grpo
    except ImportError:
        raise trainer_import_error("grpo") from None
    from distill.grading.pool import Grader

    args.validate_paths()
    data = Path(args.data)
    train_rows, valid_rows = train_and_valid(data, load_prompts, "problems", args.batch_size)
    pol = prepare_policy(args, needs_ref=args.beta > 0)
    cb = RewardCallback(pol.model, pol.out, offset=pol.offset, patience=args.early_stop_patience, state=pol.state, on_report=on_report)
    targs = GRPOTrainingArgs(
        batch_size=args.batch_size, iters=pol.remaining(args.iters), val_batches=args.val_batches, steps_per_report=args.steps_per_report,
        steps_per_eval=args.steps_per_eval, steps_per_save=args.save_every, max_seq_length=args.max_seq_length,
        adapter_file=str(pol.out / "checkpoints" / "adapters.safetensors"), grad_checkpoint=args.grad_checkpoint, group_size=args.group_size,
        beta=args.beta, epsilon=args.epsilon, epsilon_high=args.epsilon_high, max_completion_length=args.max_completion_length,
        temperature=args.temperature, top_p=1.0, top_k=0, min_p=0.0, grpo_loss_type=args.grpo_loss)  # plain temperature sampling
    t0 = time.perf_counter()
    own = grader is None
    grader = grader or Grader(workers=1)
    try:
        funcs, weights = reward_functions(args.reward, grader, args.abstain_reward, args.format_weight)
        targs.reward_weights = weights
        watch = GroupWatch(funcs, weights, group_size=args.group_size, max_tokens=args.max_completion_length, out=pol.out, offset=pol.offset,
                           count_tokens=lambda text: len(pol.tokenizer.encode(text, add_special_tokens=False)), stop_after=args.stop_when_flat)
        if targs.iters > 0:
            try:
                with quiet_trainer(), _reported_validation(cb, watch), contextlib.suppress(EarlyStop):
                    train_grpo(model=pol.model, ref_model=pol.ref, tokenizer=pol.tokenizer, optimizer=optim.Adam(learning_rate=args.learning_rate),
                               train_dataset=_dataset(train_rows, pol.tokenizer), val_dataset=_dataset(valid_rows, pol.tokenizer),
                               reward_funcs=watch.wrapped(), args=targs, training_callback=cb, end_answer_token="")
            except FlatStop:  # raised inside the reward: mlx-lm-lora's wrapper may re-raise it as itself
                pass
    finally:
        if own:
            grader.close()
    return _summary(args, pol.out, cb, len(train_rows), len(valid_rows), time.perf_counter() - t0, [f.__name__ for f in funcs])


def _summary(args: FinetuneArgs, out: Path, cb: RewardCallback, n_train: int, n_valid: int, wall: float, names: list[str]) -> FinetuneSummary:
    from .plot import plot_losses, plot_rewards

    metrics = read_metrics(out / "metrics.jsonl")
    vals = [m for m in metrics if m["kind"] == "val"]
    trains = [m for m in metrics if m["kind"] == "train"]
    best = next((m for m in vals if m["iteration"] == cb.best_iter), None)
    curve = [{"iteration": m["iteration"], "mean": m.get("train_total_rewards_mean"), "std": m.get("train_total_rewards_std"),
              **{n: m.get(f"train_{n}_mean") for n in names}} for m in trains]
    steps = [m for m in metrics if m["kind"] == "step"]
    flat_end = 0
    for m in reversed(steps):
        if m["zero_variance_share"] < 1.0:
            break
        flat_end += 1
    report = RewardReport(rewards=names, valid_before=vals[0].get("val_total_rewards_mean") if vals else None,
                          valid_best=best.get("val_total_rewards_mean") if best else None, train_curve=curve,
                          zero_variance_share=sum(m["zero_variance_share"] for m in steps) / len(steps) if steps else None,
                          flat_steps_at_end=flat_end, stopped_flat=bool(args.stop_when_flat and flat_end >= args.stop_when_flat))
    record = FinetuneSummary(
        best_iteration=cb.best_iter, best_val_loss=best["val_loss"] if best else None, final_val_loss=vals[-1]["val_loss"] if vals else None,
        base_val_loss=vals[0]["val_loss"] if vals else None, iterations_run=max([m["iteration"] for m in metrics] + [0]),
        iterations_planned=args.iters, stopped_early=cb.stopped_early or report.stopped_flat, train_examples=n_train, valid_examples=n_valid, test_examples=0,
        truncated_examples={}, wall_seconds=round(wall, 3), tokens_per_second=None, peak_memory_gb=None,
        adapter=str(out / "adapters.safetensors"), method="grpo", reward=report,
    )
    write_record(out / "summary.json", record)
    title = f"{args.title or 'GRPO'} on {Path(args.model).name}: best iteration {cb.best_iter}"
    plot_rewards(metrics, out / "reward.png", cb.best_iter, title=title)
    from .plot import plot_groups

    plot_groups(metrics, out / "groups.png", title=title)
    plot_losses(metrics, out / "loss.png", cb.best_iter, title=title)
    return record
