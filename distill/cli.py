"""The `distill` command: the root group only assembles each stage's own group."""

from __future__ import annotations

import json
import sys

import click

from . import __version__
from .context import AppContext, pass_app
from .errors import EndpointError, Interrupted, endpoint_exit


class DistillGroup(click.Group):
    """The root group: one error model for every command (README, "Exit codes")."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.exceptions.Abort):
            raise Interrupted() from None
        except EndpointError as exc:
            raise endpoint_exit(exc, log_file(ctx.obj)) from None


def log_file(app: object) -> object | None:
    return getattr(app, "log_path", None)


@click.group(cls=DistillGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False),
    help="Folder holding all state. Default: $DISTILL_WORKSPACE, else ./workspace.",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config file. Default: ./distill.toml if present.")
@click.version_option(__version__, prog_name="distill")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, config_path: str | None) -> None:
    """Distil DeepSeek-R1 into a compact student for competition maths, and measure it.

    Stages: problems -> corpus (teacher transcripts) -> finetune (LoRA) -> eval.
    """
    from distill.prompts import check_prompts_dir

    ctx.obj = AppContext(workspace_option=workspace, config_path=config_path, check_prompts=check_prompts_dir)


@cli.group("config")
def config_group() -> None:
    """Show the resolved configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def config_show(app: AppContext, as_json: bool) -> None:
    """Print the resolved configuration (defaults < distill.toml < DISTILL_* env), keys masked."""
    data = app.settings.masked()
    data["workspace"] = str(app.workspace.root)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from rich.table import Table

    table = Table("setting", "value", title="distill configuration")
    for key, value in data.items():
        if isinstance(value, dict):
            for k, v in value.items():
                table.add_row(f"{key}.{k}", str(v))
        else:
            table.add_row(key, str(value))
    app.out.print(table)


def _register() -> None:
    from distill.corpus import export_cli  # noqa: F401  (adds `corpus export` and `corpus decontaminate`)
    from distill.corpus.cli import corpus_group
    from distill.corpus.transcripts_cli import transcripts_group
    from distill.demo.cli import demo_cmd
    from distill.evaluation.cli import eval_group
    from distill.finetune.cli import finetune_group
    from distill.problems.cli import problems_group
    from distill.study.cli import study_group

    for group in (problems_group, corpus_group, transcripts_group, finetune_group, eval_group, study_group):
        cli.add_command(group)
    cli.add_command(demo_cmd)


_register()


def main() -> None:
    try:
        cli.main(prog_name="distill")
    except KeyboardInterrupt:  # Ctrl-C outside a command (while click parses, or at exit)
        Interrupted().show()
        sys.exit(130)


if __name__ == "__main__":
    main()
