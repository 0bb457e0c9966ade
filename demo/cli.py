"""`distill demo`: the whole study offline, in under two minutes on 2 cores.

A recorded teacher (some answers wrong at first) is served by a loopback OpenAI-compatible server,
so the real HTTP client path runs; the problems are drills sized for a tiny random Qwen2 student
built on the spot (`distill.demo.world`), which learns only by training on the teacher's texts.
"""

from __future__ import annotations

import os

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
{prompts}
[problems]
paths = ["{problems}"]
source = "{source}"

[split]
train_years = "{train}"
valid_years = "{valid}"
test_years = "{test}"

[corpus]
max_rounds = 3
concurrency = 8

[levels]
train = ["R1", "R3", "R6"]
conditioned = {dial}
conditioned_finetune = {conditioned}

[finetune]
model = "{model}"
seed = {seed}
{finetune}
[evaluation]
runs = 2
seed = {seed}
temperature = 0.0
max_tokens = {max_tokens}
batch_size = 8
judge = true
teacher = true
math500 = false
{roles}"""

# What the demo is; what it showed is written by the report, from its own numbers.
DEMO_NOTES = (
    "**The demo's setup.** The teacher is a recorded DeepSeek-R1 stand-in served over HTTP (it slips on about one drill in seven "
    "and is corrected by the Verifier); the problems are drills written for this project, sums of three one-digit numbers, whose "
    "long levels spell out the partial sum and whose short levels skip it. The student is a tiny random Qwen2 (2 layers, 32 wide) "
    "with a tokenizer fitted to the drills, fully fine-tuned for 100 iterations at each of R1, R3 and R6, and (unless --no-dial) once "
    "for 500 iterations on every level with the level asked for in the prompt, the length-conditioned student: it can learn the "
    "teacher's form and each level's length in that time; whether it learns the arithmetic is what the tables below measure."
)


def demo_config(ws: Path, *, model: str, base_url: str | None, live: bool, seed: int = 0, dial: bool = True) -> Path:
    """demo.toml: the drills world offline; the bundled sample problems and the study's LoRA settings with --live."""
    from .drills import split_years
    from .world import CONDITIONED_FINETUNE, FINETUNE, MAX_TOKENS

    roles = ""
    if base_url:  # the recorded teacher answers for every DeepSeek role
        from .recorded_teacher import role_settings

        roles = "".join(f'\n[{r}]\n' + "".join(f'{k} = "{v}"\n' for k, v in values.items()) for r, values in role_settings(base_url).items())
    if live:
        split = {"train": "2001", "valid": "2002", "test": "2003"}
        finetune = {"iters": 200, "batch_size": 4, "learning_rate": 1e-5, "steps_per_eval": 20, "steps_per_report": 20, "save_every": 50,
                    "num_layers": -1, "max_seq_length": 1024}
        text = DEMO_TOML.format(notes="", prompts="", problems=samples_dir(), source=SAMPLE_SOURCE, model=model, seed=seed, max_tokens=1024,
                                conditioned="{}", dial=str(dial).lower(),
                                finetune=_toml_table(finetune), roles=roles, **split)
    else:
        # paths relative to demo.toml (its folder is the workspace): a moved or copied demo finds everything in place
        rel_model = os.path.relpath(model, ws) if Path(model).is_absolute() and Path(model).is_relative_to(ws) else model
        text = DEMO_TOML.format(notes=f'notes = """{DEMO_NOTES}"""', prompts='prompts_dir = "prompts"\n', problems="drills",
                                source="drill", model=rel_model, seed=seed, max_tokens=MAX_TOKENS, finetune=_toml_table(FINETUNE), roles=roles,
                                conditioned="{ " + ", ".join(f"{k} = {v!r}" for k, v in CONDITIONED_FINETUNE.items()) + " }", dial=str(dial).lower(),
                                **split_years())
    path = ws / "demo.toml"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _toml_table(values: dict) -> str:
    return "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in values.items())


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
@click.option("--no-dial", "no_dial", is_flag=True,
              help="Leave out the length-conditioned student (its 500 iterations are most of the demo's time).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Fine-tunes and evaluations side by side in this many processes (default: the cores on a CPU backend, 1 on a GPU).")
@pass_app
def demo_cmd(app: AppContext, demo_dir: Path, seed: int, live: bool, model: str, jobs: int | None, no_dial: bool) -> None:
    """Run the whole study offline on drills written for it: a tiny student learns from a recorded teacher (no keys, no GPU)."""
    from distill.study.runner import Study, load_study_config
    from distill.study.schedule import default_jobs

    t0 = time.perf_counter()
    root = demo_dir.resolve()
    ws = Workspace(root).ensure()
    app.log_path = setup_logging(ws.logs_dir)
    out = app.out
    out.rule("distill demo" + (" (live)" if live else ""))
    out.print(f"workspace: {ws.root}")
    server = None
    if not live:
        from distill.demo.world import build_world

        server = _start_teacher(ws.root)
        out.print(f"recorded teacher (DeepSeek-R1 stand-in) serving on {server.base_url}")
        world = build_world(ws.root, seed=seed)
        model = str(world["model"])
        out.print(f"drill years in {world['problems']}; tiny random Qwen2 student at {model}")
    try:
        config = demo_config(ws.root, model=model, base_url=server.base_url if server else None, live=live, seed=seed, dial=not no_dial)
        cfg, settings = load_study_config(config)
        study = Study(cfg, settings, ws, log=out.print)
        result = study.run(jobs=jobs or default_jobs())
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
        out.print("[yellow]The student is a tiny random model trained for seconds: the report's first table shows what it learned "
                  "from the teacher (form, length, accuracy) against the untrained base.[/]")
