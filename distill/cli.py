"""The `distill` command: the root group only assembles each stage's own group."""

from __future__ import annotations

import gc
import json
import sys

# Start-up creates hundreds of thousands of long-lived objects (the openai, AutoGen and pydantic
# classes); at the default thresholds the collector re-scans them ~250 times (about 0.1 s of a run).
gc.set_threshold(50_000, 10, 10)

import click

from distill import safe_text
from distill.safe_text import plain

from . import __version__
from .context import AppContext, LazyGroup, pass_app
from .errors import EndpointError, ExitError, Interrupted, endpoint_exit, machine_error

STAGES = {  # each stage's group, imported only when it runs
    "problems": "distill.problems.cli:problems_group",
    "corpus": "distill.corpus.cli:corpus_group",
    "transcripts": "distill.viewer.cli:transcripts_group",  # the corpus group, with the viewer's html command
    "finetune": "distill.finetune.cli:finetune_group",
    "eval": "distill.evaluation.cli:eval_group",
    "study": "distill.study.cli:study_group",
    "demo": "distill.demo.cli:demo_cmd",
}


class CommandFailed(click.ClickException):
    """A kernel error (ExitError) as click reports it: the same line and exit code."""

    def __init__(self, exc: ExitError):
        super().__init__(plain(exc.format_message()))  # an error line may quote data: its controls are made visible
        self.exit_code = exc.exit_code
        self.plain = isinstance(exc, Interrupted)

    def show(self, file=None) -> None:
        if self.plain:  # no "Error:" prefix: the user asked for it
            click.echo(self.format_message(), file=file, err=file is None)
        else:
            super().show(file)


class DistillGroup(LazyGroup):
    """The root group: one error model for every command (README, "Exit codes"). The stages raise
    the kernel's errors; only here do they become click's."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.exceptions.Abort):
            raise CommandFailed(Interrupted()) from None
        except EndpointError as exc:
            raise CommandFailed(endpoint_exit(exc, log_file(ctx.obj))) from None
        except ExitError as exc:
            raise CommandFailed(exc) from None
        except Exception as exc:  # the machine saying no (not a folder, permission, read-only, full disk): one line
            refused = machine_error(exc)
            if refused is None:
                raise
            raise CommandFailed(refused) from None


def log_file(app: object) -> object | None:
    return getattr(app, "log_path", None)


@click.group(cls=DistillGroup, lazy=STAGES, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
                table.add_row(safe_text.data(f"{key}.{k}"), safe_text.data(v))
        else:
            table.add_row(safe_text.data(key), safe_text.data(value))
    app.out.print(table)


def main() -> None:
    try:
        cli.main(prog_name="distill")
    except KeyboardInterrupt:  # Ctrl-C outside a command (while click parses, or at exit)
        CommandFailed(Interrupted()).show()
        sys.exit(130)
    finally:
        # The process is ending and everything is written: spare the interpreter's final sweep over every
        # object (about 0.2 s after a corpus run); atexit handlers (log flushing) still run.
        import gc

        gc.freeze()


if __name__ == "__main__":
    main()
