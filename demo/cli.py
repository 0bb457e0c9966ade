"""`distill demo`: the whole pipeline offline on the bundled sample problems, in about a minute and a half.

A recorded teacher (authored replies, some wrong at first) is served by a loopback
OpenAI-compatible server, so the real HTTP client path runs; the student is a tiny random Qwen2
built on the spot. Every stage runs; the tiny student's accuracy means nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from distill.demo.samples import SAMPLE_SOURCE, samples_dir

from distill.context import AppContext, pass_app, setup_logging
from distill.workspace import Workspace

DEMO_TOML = """\
# Written by `distill demo`: the study design at toy scale.
name = "demo"
{notes}

[problems]
paths = ["{samples}"]
source = "{source}"

[split]
train_years = "2001"
valid_years = "2002"
test_years = "2003"

[corpus]
max_rounds = 3
concurrency = 8

[levels]
train = {levels}

[finetune]
model = "{model}"
iters = {iters}
batch_size = {batch}
num_layers = -1
learning_rate = {lr}
steps_per_eval = {every}
steps_per_report = {every}
save_every = 50
max_seq_length = 1024
seed = {seed}

[evaluation]
runs = {runs}
seed = {seed}
temperature = 0.0
max_tokens = {max_tokens}
batch_size = 8
judge = true
teacher = true
math500 = false
{roles}"""


DEMO_NOTES = (
    "**What this demo can and cannot show.** The student is a tiny random Qwen2 built on the spot and tuned for a few dozen "
    "iterations, so its accuracy and answer-format rate stay at zero: a random student cannot learn the maths at this scale "
    "(measured on this kind of machine: LoRA rank 16, lr 5e-3, 100 iterations on a random 4-layer, 128-wide Qwen2 plateaus at "
    "loss ~4.4 and emits blanks; full fine-tuning for 300 iterations at batch 32 learns the stepwise format but not the arithmetic, "
    "at ~1.8 s an iteration on 2 cores). What it does show: every stage runs end to end, the teacher's numbers are real grading "
    "of its recorded answers, and training reaches the student: the tuned students' held-out loss falls below the base model's "
    "at every level (Fine-tuning table and figure)."
)


def demo_config(ws: Path, *, model: str, base_url: str | None, live: bool, seed: int = 0) -> Path:
    levels = '["R1", "R2", "R3", "R4", "R5", "R6"]'
    roles = ""
    if base_url:  # the recorded teacher answers for every DeepSeek role
        from .recorded_teacher import role_settings

        roles = "".join(f'\n[{r}]\n' + "".join(f'{k} = "{v}"\n' for k, v in values.items()) for r, values in role_settings(base_url).items())
    notes = "" if live else f'notes = """{DEMO_NOTES}"""'
    text = DEMO_TOML.format(notes=notes, samples=samples_dir(), source=SAMPLE_SOURCE, levels=levels, model=model, iters=200 if live else 16, batch=4 if live else 2, every=20 if live else 4,
                            lr=1e-5 if live else 1e-2, runs=2, max_tokens=1024 if live else 40, roles=roles, seed=seed)
    path = ws / "demo.toml"
    path.write_text(text)
    return path


def _start_teacher(root: Path):
    """The recorded teacher on a port derived from the demo folder, so a rerun (after Ctrl-C, say)
    finds the same endpoint, the same fingerprints and nothing to redo; any free port if taken."""
    from distill.io import content_hash

    from .loopback import LoopbackServer
    from .recorded_teacher import recorded_teacher

    port = 20000 + int(content_hash(str(root)), 16) % 30000
    try:
        return LoopbackServer(recorded_teacher, port=port).start()
    except OSError:
        return LoopbackServer(recorded_teacher).start()


@click.command("demo")
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("workspace") / "demo", show_default=True,
              help="Workspace for the demo; a rerun there redoes nothing already done.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the tiny student, its training and its evaluation.")
@click.option("--live", is_flag=True, help="Use the configured endpoints (DeepSeek) and a real student model instead of the recorded teacher.")
@click.option("--model", default="mlx-community/Qwen2.5-7B-Instruct-4bit", show_default=True, help="Student model for --live.")
@pass_app
def demo_cmd(app: AppContext, demo_dir: Path, seed: int, live: bool, model: str) -> None:
    """Run the whole pipeline offline on the bundled sample problems (no keys, no GPU)."""
    from distill.study.runner import Study, load_study_config

    t0 = time.perf_counter()
    root = demo_dir.resolve()
    ws = Workspace(root).ensure()
    app.log_path = setup_logging(ws.logs_dir)
    out = app.out
    out.rule("distill demo" + (" (live)" if live else ""))
    out.print(f"workspace: {ws.root}")
    server = None
    if not live:
        from distill.demo.tiny import build_tiny_qwen2

        server = _start_teacher(ws.root)
        out.print(f"recorded teacher (DeepSeek-R1 stand-in) serving on {server.base_url}")
        model_dir = ws.root / "models" / "tiny-qwen2"
        if not (model_dir / "config.json").exists():
            build_tiny_qwen2(model_dir, seed=seed)
        model = str(model_dir)
        out.print(f"tiny random Qwen2 student built at {model_dir}")
    try:
        config = demo_config(ws.root, model=model, base_url=server.base_url if server else None, live=live, seed=seed)
        cfg, settings = load_study_config(config)
        study = Study(cfg, settings, ws, log=out.print)
        result = study.run()
    finally:
        if server:
            server.stop()
    report = study.dir / "report" / "report.md"
    out.rule("done")
    out.print(f"{len(result['ran'])} steps ran ({len(result['skipped'])} already done) in {time.perf_counter() - t0:.0f}s")
    out.print(f"report: {report}")
    out.print(f"report (HTML, with the transcripts): {report.with_suffix('.html')}")
    out.print(f"study config: {config}  (rerun with `distill -w {ws.root} study run --config {config}`)")
    if not live:
        out.print("[yellow]The student here is a tiny random model: its accuracy means nothing. The point is that every stage runs.[/]")
