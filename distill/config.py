"""Resolved configuration: defaults < distill.toml < DISTILL_* environment variables.

Keys are never stored here: each role names the environment variable that holds its key
(`api_key_env`), and the key is read only at the moment a client is built.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal, Any

from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .errors import DistillError

DEEPSEEK_URL = "https://api.deepseek.com/v1"


class ModelRole(BaseModel):
    """One model endpoint: where it lives, which model, how to sample, how hard to retry."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(DEEPSEEK_URL, description="OpenAI-compatible base URL")
    model: str = Field("deepseek-chat", description="model name sent to the endpoint")
    api_key_env: str | None = Field(
        "DEEPSEEK_API_KEY", description="NAME of the environment variable holding the API key"
    )
    temperature: float = Field(0.6, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(8192, gt=0)
    timeout_s: float = Field(600.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_s: float = Field(1.0, ge=0, description="first retry delay in seconds; doubles each retry (with jitter)")
    price_input: float | None = Field(None, ge=0, description="USD per million prompt tokens (cache miss)")
    price_cached_input: float | None = Field(None, ge=0, description="USD per million prompt tokens served from the provider's cache")
    price_output: float | None = Field(None, ge=0, description="USD per million completion tokens (reasoning included)")
    discount: float = Field(0.0, ge=0, lt=1, description="fraction off every price, e.g. an off-peak discount")
    family: str | None = Field(None, description="AutoGen model family (r1, unknown, ...); guessed if unset")
    stream: bool = Field(False, description="ask for server-sent events; the reply is the joined deltas (thinking fields included)")
    reasoning: Literal["auto", "field", "inline", "none"] = Field(
        "auto", description="how the server returns the thinking: auto (a reasoning_content/reasoning field if present, else "
                            "inline <think> tags), field, inline (tags in content; the template may open <think>), none")
    extra_urls: list[str] = Field(default_factory=list, description="more base URLs serving the same model: calls go to the "
                                  "least busy healthy one and fail over when one fails")

    @property
    def priced(self) -> bool:
        return self.price_input is not None and self.price_output is not None

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0) -> float:
        """USD for tokens that reached the endpoint (calls answered from our disk cache cost nothing); 0 when
        unpriced. `cached_prompt_tokens` (of `prompt_tokens`) are those the provider reported as served from
        its context cache, at `price_cached_input` when set (else at `price_input`)."""
        if not self.priced:
            return 0.0
        hits = max(0, min(cached_prompt_tokens, prompt_tokens))
        hit_price = self.price_input if self.price_cached_input is None else self.price_cached_input
        usd = ((prompt_tokens - hits) * (self.price_input or 0.0) + hits * (hit_price or 0.0) + completion_tokens * (self.price_output or 0.0)) / 1e6
        return usd * (1 - self.discount)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)

    @field_validator("extra_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return [check_url(u) for u in v]

    @property
    def urls(self) -> list[str]:
        """Every base URL of the role, the configured one first."""
        return [self.base_url, *(u for u in self.extra_urls if u != self.base_url)]

    def api_key(self) -> str | None:
        """The key itself, read from the environment at call time only."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    def masked(self) -> dict[str, Any]:
        d = self.model_dump()
        key = self.api_key()
        d["api_key"] = ("set (" + _mask(key) + ")") if key else "not set"
        return d


def check_url(v: str) -> str:
    parsed = urlparse(v.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{v!r} is not an http(s) URL like https://api.deepseek.com/v1")
    return v.strip()


def _mask(secret: str) -> str:
    # Length only: no character of a key is ever printed.
    return f"{len(secret)} characters"


def _solver() -> ModelRole:
    return ModelRole(model="deepseek-reasoner", temperature=0.6, max_tokens=16384, family="r1")


def _verifier() -> ModelRole:
    return ModelRole(model="deepseek-chat", temperature=0.0, max_tokens=4096)


def _judge() -> ModelRole:
    return ModelRole(model="deepseek-chat", temperature=0.0, max_tokens=512)


def _student() -> ModelRole:
    return ModelRole(
        base_url="http://127.0.0.1:8080/v1",
        model="default_model",
        api_key_env=None,
        temperature=0.0,
        max_tokens=2048,
        timeout_s=300.0,
        max_retries=3,
    )


class Settings(BaseSettings):
    """Everything configurable. Env vars: DISTILL_<ROLE>__<FIELD>, e.g. DISTILL_SOLVER__MODEL."""

    model_config = SettingsConfigDict(
        env_prefix="DISTILL_", env_nested_delimiter="__", extra="forbid", nested_model_default_partial_update=True
    )

    solver: ModelRole = Field(default_factory=_solver)
    verifier: ModelRole = Field(default_factory=_verifier)
    judge: ModelRole = Field(default_factory=_judge)
    student: ModelRole = Field(default_factory=_student)
    concurrency: int = Field(8, ge=1, description="concurrent model conversations")
    max_rounds: int = Field(3, ge=1, description="solver attempts per problem before rejecting")
    prompts_dir: Path | None = Field(None, description="folder of prompt templates overriding the bundled ones")
    grader_workers: int = Field(2, ge=1, description="grading processes (math-verify runs in them, with a time limit per verdict)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs carry the TOML file; the environment overrides it.
        return (env_settings, init_settings)

    def role(self, name: str) -> ModelRole:
        if name not in ROLES:
            raise DistillError(f"unknown model role {name!r}; expected one of {', '.join(ROLES)}")
        return getattr(self, name)

    def masked(self) -> dict[str, Any]:
        d = self.model_dump(mode="json")
        for name in ROLES:
            d[name] = self.role(name).masked()
        return d


ROLES = ("solver", "verifier", "judge", "student")


def check_environment(environ: dict[str, str] | None = None) -> None:
    """A DISTILL_* variable that names no role or setting is a typo (DISTILL_SOLVR__MODEL): say so."""
    env = os.environ if environ is None else environ
    roles = {r.upper() for r in ROLES}
    fields = {f.upper() for f in ModelRole.model_fields}
    for name in sorted(env):
        if not name.startswith("DISTILL_") or "__" not in name:
            continue  # only DISTILL_<ROLE>__<FIELD> names are role settings; other DISTILL_ names are not ours to judge
        role, _, field = name[len("DISTILL_"):].partition("__")
        if role in roles and field in fields:
            continue
        hint = f"roles: {', '.join(sorted(r.lower() for r in roles))}"
        if role in roles:
            hint = f"{role.lower()} settings: {', '.join(sorted(ModelRole.model_fields))}"
        raise DistillError(f"environment variable {name} is not a distill setting ({hint})")


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_settings(config_path: Path | str | None = None) -> Settings:
    """Read `config_path` (or ./distill.toml if it exists), then apply DISTILL_* env vars."""
    explicit = config_path is not None
    path = Path(config_path) if explicit else Path("distill.toml")
    data: dict[str, Any] = {}
    if path.exists():
        from .io import read_text

        try:
            data = tomllib.loads(read_text(path, "config file"))
        except tomllib.TOMLDecodeError as exc:
            raise DistillError(f"not valid TOML ({exc})", path=path) from None
    elif explicit:
        raise DistillError("config file not found", path=path)
    return settings_from_data(data, path)


def settings_from_data(data: dict[str, Any], path: Path | str) -> Settings:
    """Settings from an already-parsed TOML mapping (distill.toml, or the role tables of a study file)."""
    path = Path(path)
    check_environment()
    # Role defaults go in as init values so that TOML and env vars replace only the fields they name.
    factories = {"solver": _solver, "verifier": _verifier, "judge": _judge, "student": _student}
    merged: dict[str, Any] = {k: v for k, v in data.items() if k not in ROLES}
    for key, factory in factories.items():
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise DistillError(f"[{key}] must be a table of settings", path=path)
        merged[key] = _deep_merge(factory().model_dump(), value)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        env_name = "DISTILL_" + "__".join(str(p) for p in err["loc"]).upper()
        source = f"environment variable {env_name}" if env_name in os.environ else str(path)
        raise DistillError(f"{loc}: {err['msg']}", path=source) from None
