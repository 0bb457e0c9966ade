"""The study config: one TOML file that drives every step (see study.example.toml)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from distill.corpus.levels import parse_levels
from distill.finetune.args import FinetuneArgs
from distill.problems.select import years_of
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from distill.config import ROLES, Settings, settings_from_data
from distill.errors import DistillError
from distill.io import read_text

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

    @field_validator("train_years", "valid_years", "test_years")
    @classmethod
    def _years(cls, v: str) -> str:
        years_of(v)  # raises ValueError with the reason
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> "SplitCfg":
        names = ("train_years", "valid_years", "test_years")
        sets = {n: set(years_of(getattr(self, n))) for n in names}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                both = sets[a] & sets[b]
                if both:
                    raise ValueError(f"{a} and {b} share {', '.join(map(str, sorted(both)))}: held-out years must not be trained on")
        return self


class CorpusCfg(_Strict):
    max_rounds: int = Field(3, ge=1)
    concurrency: int = Field(8, ge=1)


class LevelsCfg(_Strict):
    train: list[str] = Field(default_factory=lambda: ["R1"], description="levels to export, train and evaluate")
    band: tuple[float, float] = Field((0.5, 1.5), description="word band as shares of each level template's target")
    conditioned: bool = Field(False, description="also train one length-conditioned student on every level (each asked for in the prompt) "
                                                 "and evaluate it at every level")
    conditioned_finetune: dict[str, Any] = Field(default_factory=dict, description="[finetune] settings that differ for the conditioned "
                                                 "student, e.g. {iters = 400}: it reads every level of every problem")
    mixes: list[str] = Field(default_factory=list, description="level mixes trained as extra students, e.g. [\"R1=0.5,R6=0.5\"]: "
                                                               "each problem at one level, drawn by these shares")

    @field_validator("conditioned_finetune")
    @classmethod
    def _overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        from distill.finetune.args import FinetuneArgs

        unknown = sorted(set(v) - set(FinetuneArgs.model_fields))
        if unknown:
            raise ValueError(f"unknown [finetune] setting(s) {', '.join(unknown)}")
        FinetuneArgs.build(dict(v), table="levels.conditioned_finetune")  # each value checked as [finetune] checks it
        return v

    @field_validator("mixes")
    @classmethod
    def _mixes(cls, v: list[str]) -> list[str]:
        from distill.corpus.level_mix import parse_level_spec

        out = []
        for m in v:
            try:
                out.append(parse_level_spec(m if m.startswith("mix:") else "mix:" + m).text)
            except Exception as exc:
                raise ValueError(str(exc).replace("--level ", "")) from None
        return out

    def needed(self) -> list[str]:
        """Levels whose restated texts the students need: the trained levels, every level for the
        conditioned student, and each mix's levels; in R1..R6 order."""
        from distill.corpus.level_mix import parse_level_spec
        from distill.corpus.levels import LEVELS

        want = set(self.train) | (set(LEVELS) if self.conditioned else set())
        for m in self.mixes:
            want |= set(parse_level_spec(m).levels)
        return [lv for lv in LEVELS if lv in want]

    @field_validator("band")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] < v[1]:
            raise ValueError("expected [LOW, HIGH] with 0 <= LOW < HIGH, e.g. [0.5, 1.5]")
        return v


def mix_name(spec: str) -> str:
    """A mix as a step and folder name: mix:R1=0.5,R6=0.5 -> mix-R1_50-R6_50."""
    from distill.corpus.level_mix import parse_level_spec

    s = parse_level_spec(spec)
    return "mix-" + "-".join(f"{lv}_{round(100 * x)}" for lv, x in zip(s.levels, s.shares))


CONDITIONED = "conditioned"


class EvalCfg(_Strict):
    runs: int = Field(5, ge=1)
    seed: int = 0
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(2048, gt=0)
    batch_size: int = Field(8, ge=1)
    judge: bool = True
    teacher: bool = False
    math500: bool = False
    math500_limit: int | None = Field(None, ge=1)


class PreferenceCfg(_Strict):
    """An optional DPO step on top of one level's SFT adapter, evaluated beside it (`tuned-R1+dpo`)."""

    level: str = Field("R1", description="the SFT level whose adapter DPO starts from")
    beta: float = Field(0.1, gt=0)
    iters: int = Field(50, gt=0)
    learning_rate: float = Field(1e-5, gt=0)
    batch_size: int = Field(2, gt=0)
    prefer_shorter: bool = Field(False, description="also prefer the shortest verified sample over the longest")
    pair_form: Literal["solver", "formatted"] = Field("solver", description="both sides the Solver's replies, or both Formatter rewrites "
                                                      "(adds a rewrites step: `corpus rewrite-wrong` on the corpus)")


class RLCfg(_Strict):
    """An optional GRPO step on top of one level's SFT adapter, on the training years' problems with the grader
    as the reward (validation: the validation years), evaluated beside it (`tuned-R1+grpo`)."""

    level: str = Field("R1", description="the SFT level whose adapter GRPO starts from")
    reward: Literal["correct", "correct+format", "format"] = "correct"
    iters: int = Field(50, gt=0)
    learning_rate: float = Field(1e-6, gt=0)
    batch_size: int = Field(2, gt=0)
    group_size: int = Field(4, ge=2)
    beta: float = Field(0.04, ge=0)
    temperature: float = Field(0.8, gt=0)
    max_completion_length: int = Field(1024, gt=0)
    abstain_reward: float = 0.0
    format_weight: float = Field(0.2, ge=0)
    grpo_loss: Literal["grpo", "bnpo", "dr_grpo"] = "grpo"


class StudyConfig(_Strict):
    name: str = "study"
    problems: ProblemsCfg
    split: SplitCfg
    corpus: CorpusCfg = Field(default_factory=CorpusCfg)
    levels: LevelsCfg = Field(default_factory=LevelsCfg)
    finetune: FinetuneArgs
    evaluation: EvalCfg = Field(default_factory=EvalCfg)
    preference: PreferenceCfg | None = None
    rl: RLCfg | None = None
    prompts_dir: str | None = None
    notes: str | None = Field(None, description="a paragraph printed under the report's title")
    solver: dict[str, Any] = Field(default_factory=dict)
    verifier: dict[str, Any] = Field(default_factory=dict)
    judge: dict[str, Any] = Field(default_factory=dict)
    student: dict[str, Any] = Field(default_factory=dict)


def load_study_config(path: Path) -> tuple[StudyConfig, Settings]:
    try:
        data = tomllib.loads(read_text(path, "study config"))
    except FileNotFoundError:
        raise DistillError("study config not found", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise DistillError(f"not valid TOML ({exc})", path=path) from None
    if "cost" in data:
        raise DistillError("[cost] is no longer read: prices are per role, as in distill.toml; set price_input and price_output "
                           "in [solver] and [verifier] (USD per million tokens)", path=path)
    ft = data.get("finetune")
    for key in ("data", "out", "resume"):
        if isinstance(ft, dict) and key in ft:
            raise DistillError(f"[finetune] {key}: set by the study itself; remove it", path=path)
    try:
        cfg = StudyConfig(**data)
    except ValidationError as exc:
        raise DistillError(_message(exc), path=path) from None
    if not cfg.finetune.model:
        raise DistillError("[finetune] model: required (a local model folder or a Hugging Face id)", path=path)
    local = path.parent / os.path.expanduser(cfg.finetune.model)
    if not Path(cfg.finetune.model).is_absolute() and (local / "config.json").exists():
        cfg.finetune.model = str(local.resolve())  # a model folder named relative to the config file, like every other path
    _check_model(cfg.finetune.model, path)
    cfg.levels.train = parse_levels(",".join(cfg.levels.train))
    if cfg.preference is not None and cfg.preference.level not in cfg.levels.train:
        raise DistillError(f"[preference] level: {cfg.preference.level} is not among [levels] train ({', '.join(cfg.levels.train)})", path=path)
    if cfg.rl is not None and cfg.rl.level not in cfg.levels.train:
        raise DistillError(f"[rl] level: {cfg.rl.level} is not among [levels] train ({', '.join(cfg.levels.train)})", path=path)
    base = path.parent
    cfg.problems.paths = [_resolve(p, base, path, "[problems] paths") for p in cfg.problems.paths]
    if cfg.problems.math500:
        cfg.problems.math500 = _resolve(cfg.problems.math500, base, path, "[problems] math500")
    if cfg.prompts_dir:
        cfg.prompts_dir = _resolve(cfg.prompts_dir, base, path, "prompts_dir", folder=True)
    settings = settings_from_data({r: getattr(cfg, r) for r in ROLES} | {"concurrency": cfg.corpus.concurrency, "max_rounds": cfg.corpus.max_rounds}, path)
    return cfg, settings


def _message(exc: ValidationError) -> str:
    """`[table] key: what is wrong` for the first error."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    name = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else (loc[0] if loc else "config")
    msg = "unknown setting" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
    return f"{name.strip()}: {msg.removeprefix('Value error, ')}"


def _resolve(value: str, base: Path, cfg_path: Path, name: str, *, folder: bool = False) -> str:
    """A path from the config: environment variables expanded ($DISTILL_DATA), relative to the config file; must exist."""
    expanded = os.path.expandvars(os.path.expanduser(value))
    if "$" in expanded:
        var = expanded[expanded.index("$"):].split("/")[0]
        raise DistillError(f"{name}: {value!r} uses {var}, which is not set (export it, e.g. DISTILL_DATA=/path/to/data)", path=cfg_path)
    p = Path(expanded)
    p = p if p.is_absolute() else (base / p).resolve()
    if not p.exists():
        raise DistillError(f"{name}: {p} does not exist", path=cfg_path)
    if folder and not p.is_dir():
        raise DistillError(f"{name}: {p} is not a folder", path=cfg_path)
    return str(p)


def _check_model(model: str, cfg_path: Path) -> None:
    """A local model path must be a model folder; a Hugging Face id (org/name) is resolved when it is loaded."""
    p = Path(os.path.expanduser(model))
    looks_local = p.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1
    if looks_local and not (p / "config.json").exists():
        what = "is not a model folder (no config.json)" if p.exists() else "does not exist"
        raise DistillError(f"[finetune] model: {model} {what}", path=cfg_path)
