"""A study's on-disk state (studies/NAME/state.json) and the hash of its input files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from distill.io import content_hash

STEPS = ("import", "corpus", "levels", "rewrites", "export", "finetune", "evaluate", "grade", "report")


def file_hash(paths: list[str]) -> str:
    from distill.problems.importers import expand_paths

    # by name within each given path, not by absolute path: a moved or copied study hashes the same
    out: dict[str, str] = {}
    for p in map(Path, paths or []):
        for f in expand_paths([p]):
            name = str(f.relative_to(p)) if p.is_dir() else f.name
            out[f"{p.name}/{name}"] = content_hash(f.read_bytes(), 32)
    return content_hash(out, 32)


class StepRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    outputs: dict[str, Any]
    finished_at: str


class StudyState(BaseModel):
    """studies/NAME/state.json: what each step last produced, and from which inputs."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    workspace: str | None = Field(None, description="the workspace folder the outputs' paths were written under: when the "
                                                    "workspace has moved, they are read relative to where it is now")


@dataclass
class StepState:
    name: str
    key: str  # e.g. finetune:R3
    fingerprint: str
    status: str  # done | stale | pending
    outputs: dict[str, Any]
