"""The bundled sample problems (original, written for this project) used by the demo and tests."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_SOURCE = "sample"


def samples_dir() -> Path:
    return Path(str(resources.files("distill.demo") / "sample_problems"))


def sample_files() -> list[Path]:
    return sorted(samples_dir().glob("*.json"))
