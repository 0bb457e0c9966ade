"""How much memory this machine gives a step: Metal's recommended working set on Apple Silicon, the
available RAM on the CPU backend, or DISTILL_MEMORY_LIMIT (e.g. `16GB`) when set."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from distill.errors import DistillError

ENV = "DISTILL_MEMORY_LIMIT"
UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


@dataclass(frozen=True)
class Limit:
    bytes: int
    source: str  # where the figure comes from, shown beside it


def parse_size(text: str, what: str = ENV) -> int:
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text or "")
    if not m or m.group(2).lower() not in UNITS:
        raise DistillError(f"{what}={text!r}: expected a size such as 16GB, 512MB or a number of bytes")
    return int(float(m.group(1)) * UNITS[m.group(2).lower()])


def memory_limit() -> Limit:
    if os.environ.get(ENV):
        return Limit(parse_size(os.environ[ENV]), ENV)
    try:
        import mlx.core as mx

        info = mx.device_info()
        if mx.metal.is_available() and info.get("max_recommended_working_set_size"):
            return Limit(int(info["max_recommended_working_set_size"]), "Metal's recommended working set")
    except Exception:  # no MLX here (a planning-only install): fall back to the RAM
        pass
    return Limit(_available_ram(), "available RAM")


def _available_ram() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def human(n: float) -> str:
    """Bytes as a person reads them: 19 GB, 340 MB, 12 KB."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= size:
            v = n / size
            return f"{v:.1f} {unit}" if v < 10 else f"{v:.0f} {unit}"
    return f"{int(n)} B"
