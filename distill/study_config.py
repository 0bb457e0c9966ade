"""The study config: one TOML file that drives every step (see study.example.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distill.config import ROLES, Settings, settings_from_data
from distill.errors import DistillError

# The published design and its numbers, for the report's comparison column and banner.
PUBLISHED = {"student": "Qwen2.5-7B-Instruct (4-bit)", "iters": 200, "runs": 5, "levels": ["R1", "R2", "R3", "R4", "R5", "R6"],
             "base": 0.6467, "teacher": 0.9140, "tuned": 0.6943, "tuned_std": 0.0017, "math500": 0.731, "r6": 0.419}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemsCfg(_Strict):
    paths: list[str] = Field(default_factory=list, description="files or folders to import (relative to the config file)")
    source: str = "obryan"
    format: str | None = None
    math500: str | None = Field(None, description="MATH-500 JSONL for the generalisation test (optional)")


class SplitCfg(_Strict):
    train_years: str
    valid_years: str
    test_years: str


class CorpusCfg(_Strict):
    max_rounds: int = 3
    concurrency: int = 8


class LevelsCfg(_Strict):
    train: list[str] = Field(default_factory=lambda: ["R1"], description="levels to export, train and evaluate")


class EvalCfg(_Strict):
    runs: int = 5
    seed: int = 0
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 2048
    batch_size: int = 8
    judge: bool = True
    teacher: bool = False
    math500: bool = False
    math500_limit: int | None = None


class CostCfg(_Strict):
    prompt_usd_per_mtok: float | None = None
    completion_usd_per_mtok: float | None = None


class StudyConfig(_Strict):
    name: str = "study"
    problems: ProblemsCfg
    split: SplitCfg
    corpus: CorpusCfg = Field(default_factory=CorpusCfg)
    levels: LevelsCfg = Field(default_factory=LevelsCfg)
    finetune: dict[str, Any]
    evaluation: EvalCfg = Field(default_factory=EvalCfg)
    cost: CostCfg = Field(default_factory=CostCfg)
    prompts_dir: str | None = None
    solver: dict[str, Any] = Field(default_factory=dict)
    verifier: dict[str, Any] = Field(default_factory=dict)
    judge: dict[str, Any] = Field(default_factory=dict)
    student: dict[str, Any] = Field(default_factory=dict)


def load_study_config(path: Path) -> tuple[StudyConfig, Settings]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DistillError("study config not found", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise DistillError(f"not valid TOML ({exc})", path=path) from None
    try:
        cfg = StudyConfig(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DistillError(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", path=path) from None
    if "model" not in cfg.finetune:
        raise DistillError("[finetune] needs model = ...", path=path)
    from distill.corpus.levels import parse_levels

    cfg.levels.train = parse_levels(",".join(cfg.levels.train))
    base = path.parent
    cfg.problems.paths = [str((base / p).resolve()) if not Path(p).is_absolute() else p for p in cfg.problems.paths]
    if cfg.problems.math500 and not Path(cfg.problems.math500).is_absolute():
        cfg.problems.math500 = str((base / cfg.problems.math500).resolve())
    if cfg.prompts_dir and not Path(cfg.prompts_dir).is_absolute():
        cfg.prompts_dir = str((base / cfg.prompts_dir).resolve())
    settings = settings_from_data({r: getattr(cfg, r) for r in ROLES} | {"concurrency": cfg.corpus.concurrency, "max_rounds": cfg.corpus.max_rounds}, path)
    return cfg, settings
