"""What every command gets from the root group: the workspace and the settings, resolved lazily."""

from __future__ import annotations

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
    console: Console = field(default_factory=lambda: Console(stderr=True))
    out: Console = field(default_factory=Console)

    @property
    def workspace(self) -> Workspace:
        return Workspace.resolve(self.workspace_option)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def prompts_dir(self, option: str | Path | None = None) -> Path | None:
        return Path(option) if option else self.settings.prompts_dir


pass_app = click.make_pass_decorator(AppContext, ensure=True)
