"""What every command gets from the root group: the workspace and the settings, resolved lazily."""

from __future__ import annotations

import os

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console

from .config import Settings, load_settings
from .workspace import Workspace


@dataclass
class AppContext:
    workspace_option: str | None = None
    config_path: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _prompt_notes: set[str] = field(default_factory=set, repr=False)
    # set by the root CLI (the kernel cannot import the prompts package): validates a prompts folder
    check_prompts: Callable[[Path], list[str]] | None = field(default=None, repr=False)
    log_path: Path | None = None  # set by start_log: named in one-line errors
    console: Console = field(default_factory=lambda: Console(stderr=True))
    out: Console = field(default_factory=Console)

    @property
    def workspace(self) -> Workspace:
        ws = Workspace.resolve(self.workspace_option)
        if ws.root.exists() and not ws.root.is_dir():
            from .errors import DistillError

            named = "--workspace" if self.workspace_option else "$DISTILL_WORKSPACE" if os.environ.get("DISTILL_WORKSPACE") else "./workspace"
            raise DistillError(f"{named} is {ws.root}, a file, not a folder: name a folder for distill's state")
        return ws

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def prompts_dir(self, option: str | Path | None = None) -> Path | None:
        """--prompts (else prompts_dir from the config), checked; a note names the templates it lacks."""
        folder = Path(option) if option else self.settings.prompts_dir
        if folder is None or str(folder) in self._prompt_notes or self.check_prompts is None:
            return folder
        missing = self.check_prompts(folder)
        self._prompt_notes.add(str(folder))
        if missing:
            self.console.print(f"note: {folder} has no {', '.join(missing)}; the bundled templates are used for those", soft_wrap=True)
        return folder

    def start_log(self) -> Path:
        """Full details (tracebacks, retries, library errors) go to workspace/logs/distill.log;
        the terminal gets distill's own one-line warnings only."""
        self.log_path = setup_logging(self.workspace.ensure().logs_dir)
        return self.log_path


class _DistillOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("distill")


def setup_logging(logs_dir: Path) -> Path:
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / "distill.log"
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "distill", False)]:
        root.removeHandler(h)
        h.close()
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.addFilter(_DistillOnly())
    console.setFormatter(logging.Formatter("%(message)s"))
    for h in (file_handler, console):
        h.distill = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(logging.WARNING)  # libraries: warnings and errors (with tracebacks) only
    logging.getLogger("distill").setLevel(logging.DEBUG)
    return path


pass_app = click.make_pass_decorator(AppContext, ensure=True)


class FieldType(click.ParamType):
    """A command-line value checked by the same pydantic constraints as its config field, so
    `--temperature -1` fails exactly as `temperature = -1` in distill.toml does."""

    def __init__(self, model: type, field: str):
        from typing import Annotated

        from pydantic import TypeAdapter

        info = model.model_fields[field]  # type: ignore[attr-defined]
        self.name = field.replace("_", "-")
        self.adapter = TypeAdapter(Annotated[info.annotation, *info.metadata]) if info.metadata else TypeAdapter(info.annotation)

    def convert(self, value, param, ctx):
        from pydantic import ValidationError

        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            self.fail(exc.errors()[0]["msg"], param, ctx)


class LazyGroup(click.Group):
    """A click group whose subcommands named in `lazy` ("name": "module:attribute") are imported only
    when that command runs (or when help lists them), so `distill corpus run` does not import the
    evaluation, fine-tuning and study stages."""

    def __init__(self, *args: object, lazy: dict[str, str] | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, attr = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)
