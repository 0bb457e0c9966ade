"""card.json: the evaluation card in every evaluation folder, everything that decides its numbers, so that anyone
can say how a figure was made and two figures made differently are never compared as if they were alike.

Weights are hashed by content when they are on disk and smaller than WEIGHTS_HASH_LIMIT; larger ones by their
safetensors headers (tensor names, shapes, offsets) and sizes, which change whenever the tensors do in practice;
a hub id that is not on disk is recorded as `null` with the id.
"""

from __future__ import annotations

import hashlib
import json
import struct
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from distill.io import read_record, write_record

WEIGHTS_HASH_LIMIT = 1 << 30


class EvalCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    model: str | None = Field(description="the model id or path (the endpoint's served model)")
    weights_sha256: str | None = Field(description="content hash of the weights (headers and sizes above 1 GiB); null when not on disk")
    adapter: str | None = None
    adapter_sha256: str | None = None
    student_templates: dict[str, str] = Field(description="student prompt template -> sha256")
    chat_template_sha256: str | None = Field(description="sha256 of the tokenizer's chat template; null for an endpoint")
    sampling: dict[str, Any] = Field(description="temperature, top_p, max_tokens, thinking_budget")
    seeds: dict[str, Any] = Field(description="the evaluation's seed and how each item's seed derives from it")
    runs: int
    samples: int
    grader_version: str
    judge: dict[str, Any] | None = None
    versions: dict[str, str | None]
    backend: dict[str, Any] = Field(description="mlx (batch size) or endpoint (base URL, served model)")


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_hash(model: str | None) -> str | None:
    if not model or not Path(model).is_dir():
        return None
    files = sorted(Path(model).glob("*.safetensors"))
    if not files:
        return None
    h = hashlib.sha256()
    big = sum(f.stat().st_size for f in files) > WEIGHTS_HASH_LIMIT
    for f in files:
        h.update(f.name.encode())
        if big:  # the header (u64 length, then JSON of names, shapes, offsets) and the size
            with f.open("rb") as fh:
                n = struct.unpack("<Q", fh.read(8))[0]
                h.update(fh.read(n))
            h.update(str(f.stat().st_size).encode())
        else:
            h.update(_sha_file(f).encode())
    return h.hexdigest()


def chat_template_hash(model: str | None) -> str | None:
    if not model or not Path(model).is_dir():
        return None
    for name in ("chat_template.jinja", "tokenizer_config.json"):
        p = Path(model) / name
        if p.exists():
            text = p.read_text(encoding="utf-8")
            if name.endswith(".json"):
                text = json.dumps(json.loads(text).get("chat_template"), sort_keys=True)
            return hashlib.sha256(text.encode()).hexdigest()
    return None


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("distill", "mlx", "mlx-lm", "math-verify"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def build_card(backend: dict[str, Any], sampling: dict[str, Any], *, templates: dict[str, str], seed: int, runs: int, samples: int,
               grader: str, judge: dict[str, Any] | None) -> EvalCard:
    model = backend.get("model")
    adapter = backend.get("adapter")
    weights = Path(adapter) / "adapters.safetensors" if adapter else None
    local = backend.get("backend") == "mlx"
    return EvalCard(model=model, weights_sha256=weights_hash(model) if local else None, adapter=adapter,
                    adapter_sha256=_sha_file(weights) if weights and weights.exists() else None, student_templates=templates,
                    chat_template_sha256=chat_template_hash(model) if local else None, sampling=sampling,
                    seeds={"seed": seed, "scheme": "plan_seed(seed, run, index in the run's plan); mlx-lm chunks use their first item's seed"},
                    runs=runs, samples=samples, grader_version=grader, judge=judge, versions=_versions(), backend=backend)


def write_card(folder: Path, card: EvalCard) -> None:
    write_record(folder / "card.json", card)


def read_card(folder: Path) -> EvalCard | None:
    path = Path(folder) / "card.json"
    return read_record(path, EvalCard, "an evaluation card", "run `distill eval regrade` on the folder to write one") if path.exists() else None


def protocol_differences(a: EvalCard, b: EvalCard) -> list[str]:
    """One phrase per protocol setting that differs: `temperature 0.0 vs 0.8`, `grader abc vs def`, ..."""
    out = []
    for key in sorted(set(a.sampling) | set(b.sampling)):
        if a.sampling.get(key) != b.sampling.get(key):
            out.append(f"{key} {a.sampling.get(key)} vs {b.sampling.get(key)}")
    if a.student_templates != b.student_templates:
        out.append("student prompt templates differ")
    if a.chat_template_sha256 != b.chat_template_sha256 and a.chat_template_sha256 and b.chat_template_sha256:
        out.append("chat templates differ")
    if a.grader_version != b.grader_version:
        out.append(f"grader {a.grader_version} vs {b.grader_version}")
    return out
