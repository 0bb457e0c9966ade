"""`distill study`: the whole study from one config, resumable step by step."""

from __future__ import annotations

import json
from pathlib import Path

import click

from distill.errors import DistillError
from distill.study.state import STEPS
from rich.table import Table

from distill.context import AppContext, pass_app


def _open(app: AppContext, config: Path):
    from distill.study.runner import Study, load_study_config

    cfg, settings = load_study_config(config)
    return Study(cfg, settings, app.workspace, log=app.console.print)


@click.group("study")
def study_group() -> None:
    """Run the whole study (import -> corpus -> levels -> rewrites -> export -> finetune -> evaluate -> grade -> report)."""


@study_group.command("run")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Study TOML (see study.example.toml).")
@click.option("--until", type=click.Choice(STEPS), help="Stop after this step.")
@click.option("--only", type=click.Choice(STEPS), help="Run only this step (its inputs must be done).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Fine-tunes and evaluations run side by side in this many worker processes (default: the cores on a CPU backend, "
                   "1 on a GPU); the results are the same as with --jobs 1.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--plan", "plan_only", is_flag=True, help="Print every pending step's estimate (memory, time, cost) and the totals; run nothing.")
@click.option("--probe", is_flag=True, help="With --plan: time a few real steps of each fine-tune and one batch of each evaluation whose inputs exist.")
@click.option("--force", is_flag=True, help="Run even when a step's estimated peak memory exceeds the machine's.")
@pass_app
def run_cmd(app: AppContext, config: Path, until: str | None, only: str | None, jobs: int | None, as_json: bool, plan_only: bool,
            probe: bool, force: bool) -> None:
    """Run every step that is not already done with the same inputs.

    Before any step, each pending fine-tune and evaluation is estimated; a study with a step that does not
    fit this machine's memory is refused (exit 2), naming the step and the cheapest change, unless --force."""
    from distill.study.schedule import default_jobs

    if probe and not plan_only:
        raise DistillError("--probe goes with --plan")
    study = _open(app, config)
    if plan_only or not force:
        from distill.plan.record import render

        from .plan import plan_study, refusal

        plan = plan_study(study, probe=probe)
        if plan_only:
            click.echo(plan.model_dump_json()) if as_json else render(plan, app.out)
            return
        if not plan.fits:
            raise DistillError(refusal(plan))
    app.start_log()
    result = study.run(until=until, only=only, jobs=jobs or default_jobs())
    if as_json:
        click.echo(json.dumps(result))
    else:
        app.out.print(f"ran {len(result['ran'])} steps, skipped {len(result['skipped'])} up to date; study folder {result['dir']}")


@study_group.command("status")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_cmd(app: AppContext, config: Path, as_json: bool) -> None:
    """Each step's state: done, stale (inputs changed) or pending."""
    rows = _open(app, config).status()
    if as_json:
        click.echo(json.dumps([{"step": r.name, "key": r.key, "status": r.status, "fingerprint": r.fingerprint} for r in rows]))
        return
    t = Table("step", "unit", "status", "fingerprint", title="study status")
    colour = {"done": "green", "stale": "yellow", "pending": "dim"}
    for r in rows:
        t.add_row(r.name, r.key, f"[{colour[r.status]}]{r.status}[/]", r.fingerprint[:12])
    app.out.print(t)
