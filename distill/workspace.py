"""The workspace: one folder holding all state (problems, caches, transcripts, exports, runs).

Chosen by `--workspace`, else $DISTILL_WORKSPACE, else ./workspace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "DISTILL_WORKSPACE"


def resolve_workspace(option: str | Path | None = None) -> Path:
    if option:
        return Path(option).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / "workspace").resolve()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, option: str | Path | None = None) -> "Workspace":
        return cls(resolve_workspace(option))

    @property
    def problems_file(self) -> Path:
        return self.root / "problems" / "problems.jsonl"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache" / "model_calls"

    @property
    def transcripts_dir(self) -> Path:
        return self.root / "transcripts"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> "Workspace":
        from .errors import DistillError

        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DistillError(f"cannot create the workspace folder ({exc.strerror}); choose another with -w or ${ENV_VAR}",
                               path=self.root) from None
        if not os.access(self.root, os.W_OK):
            raise DistillError(f"the workspace folder is not writable; choose another with -w or ${ENV_VAR}", path=self.root)
        return self
