"""`distill finetune`: LoRA runs with mlx-lm that keep the best adapter by validation loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from distill.params import Count, OutPath

from distill.context import AppContext, pass_app
from distill.errors import DistillError

from .args import FinetuneArgs, read_config_file


@click.group("finetune")
def finetune_group() -> None:
    """Fine-tune the student with LoRA (mlx-lm) and keep the best adapter."""


def _args_options(fn):
    """One click option per FinetuneArgs field, help text from the dataclass; unset options stay None."""
    for fname, f in reversed(list(FinetuneArgs.model_fields.items())):
        name = "--" + fname.replace("_", "-")
        help_text = f.description or ""
        if f.annotation is bool:
            off = "--no-" + fname.replace("_", "-")
            fn = click.option(f"{name}/{off}", fname, default=None, help=f"{help_text} [default: {'on' if f.default else 'off'}]")(fn)
        else:
            typ = {int: int, float: float, int | None: int, float | None: float}.get(f.annotation, str)  # type: ignore[call-overload]
            default = f" [default: {f.default}]" if f.default not in ("", None) else ""
            fn = click.option(name, fname, type=typ, default=None, help=help_text + default)(fn)
    return fn


def resolve_args(config_file: Path | None, given: dict[str, Any]) -> FinetuneArgs:
    values: dict[str, Any] = read_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in given.items() if v is not None})
    args = FinetuneArgs.build(values)
    args.validate_paths()
    return args


@finetune_group.command("run")
@click.option("--config-file", type=click.Path(dir_okay=False, path_type=Path), help="YAML or TOML with any of these settings.")
@click.option("--launch", "ranks", type=click.IntRange(min=2), help="Data-parallel over N local processes (mlx.launch, ring backend).")
@click.option("--hosts", "hostfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Data-parallel over the machines of an mlx.launch hosts file (see README: several Macs).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json when done (with --plan: the plan as JSON).")
@click.option("--plan", "plan_only", is_flag=True, help="Print the memory (and, with --probe, the time) this run needs; train nothing.")
@click.option("--probe", is_flag=True, help="With --plan: time a few real steps on the longest batch.")
@click.option("--force", is_flag=True, help="Train even when the plan's peak memory exceeds the machine's.")
@_args_options
@pass_app
def run_cmd(app: AppContext, config_file: Path | None, ranks: int | None, hostfile: Path | None, quiet: bool, as_json: bool, plan_only: bool,
            probe: bool, force: bool, **given: Any) -> None:
    """Train a LoRA adapter; keep the one with the lowest validation loss.

    Before loading the model, the run's peak memory is estimated from the model's config.json and the
    export's token lengths; a run that does not fit this machine is refused (exit 2) with the cheapest
    change that fits, unless --force. --plan prints that estimate and stops."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .run import run_finetune

    args = resolve_args(config_file, given)
    if _planned(app, args, plan_only, probe, force, as_json):
        return
    if args.method == "grpo":
        if ranks or hostfile:
            raise DistillError("--method grpo runs in one process; drop --launch/--hosts")
        args = with_prompt_set(app, args)
    elif args.problems or args.valid_problems:
        raise DistillError(f"--problems chooses GRPO's prompts; --method {args.method} trains on --data")
    app.start_log()
    if ranks or hostfile:
        from .launch import launch

        if ranks and hostfile:
            raise DistillError("--launch and --hosts both say where to run; use one of them")
        summary = launch(args, ranks=ranks, hostfile=hostfile)
        click.echo(json.dumps(summary) if as_json else
                   f"best iteration {summary['best_iteration']} (val {summary['best_val_loss']:.4f}) over {summary['ranks']} ranks -> {args.out}")
        return
    progress = Progress(TextColumn(f"[bold]{'LoRA' if args.method == 'sft' else args.method.upper()}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[losses]}"),
                        console=app.console, disable=quiet or as_json)
    state = {"train": None, "val": None, "best": None}

    def on_report(row: dict[str, Any]) -> None:
        shown = "total_rewards_mean" if args.method == "grpo" else "loss"  # GRPO keeps the best reward, not loss
        if row["kind"] == "train":
            state["train"] = row.get(f"train_{shown}")
        else:
            state["val"] = row.get(f"val_{shown}")
            if row["best"]:
                state["best"] = (row["iteration"], state["val"])
        best = f"best {state['best'][1]:.3f} @ {state['best'][0]}" if state["best"] else ""
        losses = " ".join(x for x in (f"train {state['train']:.3f}" if state["train"] is not None else "",
                                      f"val {state['val']:.3f}" if state["val"] is not None else "", best) if x)
        progress.update(task, completed=row["iteration"], losses=losses)

    with progress:
        task = progress.add_task("lora", total=args.iters, losses="loading model")
        record = run_finetune(args, on_report=on_report)
    assert record is not None  # this process is rank 0
    if as_json:
        click.echo(record.model_dump_json())
        return
    if record.reward is not None:
        r = record.reward
        curve = [c["mean"] for c in r.train_curve if c.get("mean") is not None]
        app.out.print(f"best adapter: iteration {record.best_iteration}; mean validation reward {_num(r.valid_before)} before, "
                      f"{_num(r.valid_best)} kept; training reward {_num(curve[0] if curve else None)} -> {_num(curve[-1] if curve else None)} "
                      f"over {record.iterations_run} iterations")
        if r.zero_variance_share is not None:
            app.out.print(f"zero-variance groups (no gradient): {100 * r.zero_variance_share:.0f}% of all groups"
                          + (f"; [yellow]stopped after {r.flat_steps_at_end} flat steps in a row (--stop-when-flat)[/]" if r.stopped_flat else ""))
        app.out.print(f"outputs in {args.out}: adapters.safetensors, metrics.jsonl, summary.json, reward.png, groups.png, loss.png")
        return
    summary = record.model_dump(mode="json")
    trunc = sum(summary["truncated_examples"].values())
    app.out.print(
        f"best adapter: iteration {summary['best_iteration']} (val loss {summary['best_val_loss']:.4f}); "
        f"final val loss {summary['final_val_loss']:.4f}; {summary['iterations_run']} iterations"
        + (" [yellow](stopped early)[/]" if summary["stopped_early"] else "")
    )
    if summary.get("test_loss") is not None:
        app.out.print(f"test loss {summary['test_loss']:.4f} (perplexity {summary['test_perplexity']:.2f})")
    if trunc:
        app.out.print(f"[yellow]{trunc} examples were longer than --max-seq-length and were truncated[/]")
    app.out.print(f"outputs in {args.out}: adapters.safetensors, metrics.jsonl, summary.json, loss.png")


def _planned(app: AppContext, args: FinetuneArgs, plan_only: bool, probe: bool, force: bool, as_json: bool) -> bool:
    """--plan: print the plan (True: nothing else to do). Otherwise a supervised run that does not fit this
    machine is refused here, before any model load, unless --force."""
    if probe and not plan_only:
        raise DistillError("--probe goes with --plan")
    if not plan_only and (args.method != "sft" or force):
        return False
    from distill.plan.record import render

    from .plan import plan_finetune, plan_or_none

    plan = plan_finetune(args, probe=probe) if plan_only else plan_or_none(args)
    if plan_only:
        click.echo(plan.model_dump_json()) if as_json else render(plan, app.out)
        return True
    if plan is not None and not plan.fits:
        raise DistillError(plan.refusal())
    return False


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def with_prompt_set(app: AppContext, args: FinetuneArgs) -> FinetuneArgs:
    """GRPO's --problems (and --valid-problems), chosen like `eval run --problems`, written as the run's
    prompt set (`<out>/prompts/{train,valid}.jsonl`, the student prompt and the key) and used as --data."""
    from distill.corpus.selection import resolve_spec

    from .grpo import split_prompt_set, write_prompt_set
    from .policy import resume_state

    if not args.problems:
        return args  # --data holds a prompt set already
    resume_state(args, Path(args.out))  # a folder holding another run says so before its prompt set is touched
    ws = app.workspace
    train = resolve_spec(args.problems, ws.problems_file, ws.exports_dir)
    valid = resolve_spec(args.valid_problems, ws.problems_file, ws.exports_dir) if args.valid_problems else None
    train, valid = split_prompt_set(train, valid)
    folder = Path(args.out) / "prompts"
    if not args.resume:
        write_prompt_set(train, valid, folder, app.prompts_dir())
    return args.model_copy(update={"data": str(folder)})


@finetune_group.command("test")
@click.option("--model", required=True, help="Base model path or id.")
@click.option("--adapter", type=click.Path(file_okay=False, path_type=Path), help="Adapter folder (omit for the base model).")
@click.option("--data", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder with test.jsonl.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "valid", "test"]))
@click.option("--batch-size", type=Count(1), default=4, show_default=True)
@click.option("--max-seq-length", type=Count(1), default=2048, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def test_cmd(app: AppContext, model: str, adapter: Path | None, data: Path, split: str, batch_size: int, max_seq_length: int, as_json: bool) -> None:
    """Loss and perplexity of a model (with an adapter) on a split."""
    import math

    from mlx_lm.tuner.datasets import CacheDataset, ChatDataset

    from .data import load_split
    from .model import load_model
    from .run import evaluate_loss

    rows = load_split(data / f"{split}.jsonl")
    m, tok = load_model(model, adapter)
    loss = evaluate_loss(m, CacheDataset(ChatDataset(rows, tok, chat_key="messages", mask_prompt=True)), batch_size, max_seq_length)
    result = {"split": split, "examples": len(rows), "loss": loss, "perplexity": math.exp(loss), "adapter": str(adapter) if adapter else None}
    click.echo(json.dumps(result) if as_json else f"{split}: loss {loss:.4f}, perplexity {math.exp(loss):.2f} over {len(rows)} examples")


@finetune_group.command("fuse")
@click.option("--model", required=True, help="Base model path or id.")
@click.option("--adapter", required=True, type=click.Path(file_okay=False, path_type=Path), help="Adapter folder.")
@click.option("--out", "out_dir", required=True, type=OutPath(file_okay=False), help="Folder for the fused model.")
@click.option("--check-prompt", "prompts", multiple=True, help="Prompts for the fused-vs-unfused check (default: three maths questions).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def fuse_cmd(app: AppContext, model: str, adapter: Path, out_dir: Path, prompts: tuple[str, ...], as_json: bool) -> None:
    """Fuse an adapter into the model and check fused and unfused greedy outputs agree."""
    from .run import fuse_adapter

    checks = list(prompts) or ["What is 8 + 9?", "Simplify the square root of 75.", "What is 15% of 240?"]
    result = fuse_adapter(model, adapter, out_dir, checks)
    if as_json:
        click.echo(json.dumps(result))
    else:
        status = "[green]agree[/]" if result["all_same"] else "[red]DISAGREE: the fused model lost the adapter[/]"
        app.out.print(f"fused into {result['out']}; greedy outputs on {len(checks)} prompts {status}")
    if not result["all_same"]:
        raise SystemExit(1)
