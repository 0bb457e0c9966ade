"""Model clients for the roles, behind one on-disk model-call cache.

Cache key (documented, see `client_namespace`): sha256 over
  namespace = canonical JSON of {role's base_url, model, family, temperature, top_p}
  + the sample index, for the 2nd, 3rd, ... independent sample of the same request
  + AutoGen's ChatCompletionCache key = sha256 of the canonical JSON of the messages sent
    (the *rendered* prompts, so an edited template changes the key), tools, json_output and
    extra create args.
So another model, endpoint or sampling parameter misses the cache, as does any prompt edit.
`max_tokens` is not in the key: a stored answer is complete (truncated ones are never stored),
so it stays valid when the limit grows, and when it shrinks as long as the answer fits the new
limit; only truncated or failed calls are asked again.
The API key is not part of the key and is never stored: only results are stored, as JSON.
Truncated (finish_reason `length`), empty and failed results are never stored.
"""

from __future__ import annotations

import asyncio
import logging
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
from autogen_core import CacheStore, CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelFamily,
    ModelInfo,
)
from autogen_ext.models.cache import ChatCompletionCache

from distill.config import ModelRole
from distill.errors import DistillError, EndpointError
from distill.io import content_hash, open_disk_store

from . import provider_cache
from .failures import UNREACHABLE_RETRIES, EmptyResponse, classify, retry_after, to_endpoint_error, where

log = logging.getLogger("distill.models")
# R1 replies from an API that returns reasoning_content carry no <think> tags; AutoGen warns each time.
warnings.filterwarnings("ignore", message="Could not find <think>", category=UserWarning)

CACHE_FORMAT = 2  # 1 had max_tokens in the namespace; its entries are still read (see DiskCallStore)
_RETRIES_SAID: set[tuple[str, str]] = set()


def client_namespace(role: ModelRole) -> str:
    """The part of every cache key that names the model and how it samples."""
    return content_hash({"format": CACHE_FORMAT, "base_url": role.base_url.rstrip("/"), "model": role.model,
                         "family": guess_family(role), "temperature": role.temperature, "top_p": role.top_p}, 32)


def legacy_namespace(role: ModelRole) -> str:
    """Format 1 (max_tokens in the key): read so that an older cache is not paid for twice."""
    return content_hash({"format": 1, "base_url": role.base_url.rstrip("/"), "model": role.model, "family": guess_family(role),
                         "temperature": role.temperature, "top_p": role.top_p, "max_tokens": role.max_tokens}, 32)


def guess_family(role: ModelRole) -> str:
    if role.family:
        return role.family
    name = role.model.lower()
    return ModelFamily.R1 if ("reasoner" in name or "r1" in name) else ModelFamily.UNKNOWN


def is_cacheable(result: Any) -> bool:
    """Only complete, non-empty answers are worth replaying."""
    if not isinstance(result, CreateResult):
        return False
    if result.finish_reason not in ("stop", "function_calls", "tool_calls"):
        return False
    return bool(result.content) if isinstance(result.content, str) else bool(result.content)


class DiskCallStore(CacheStore[CreateResult]):
    """A diskcache-backed store scoped to one model configuration (and sample index); stores each
    complete result as plain JSON with the max_tokens it was asked under."""

    def __init__(self, cache: diskcache.Cache, namespace: str, *, max_tokens: int | None = None, legacy: str | None = None, sample: int = 0):
        self.cache = cache
        self.namespace, self.max_tokens, self.legacy, self.sample = namespace, max_tokens, legacy, sample

    def for_sample(self, sample: int) -> "DiskCallStore":
        return DiskCallStore(self.cache, self.namespace, max_tokens=self.max_tokens, legacy=self.legacy, sample=sample)

    def _key(self, key: str) -> str:
        return f"{self.namespace}/s{self.sample}:{key}" if self.sample else f"{self.namespace}:{key}"

    def get(self, key: str, default: CreateResult | None = None) -> Any:
        value = self.cache.get(self._key(key))
        if isinstance(value, dict) and "result" in value:
            result = value["result"]
            used = ((result.get("usage") or {}).get("completion_tokens")) or 0
            fits = self.max_tokens is None or value.get("max_tokens", 0) <= self.max_tokens or 0 < used < self.max_tokens
            return result if fits else default
        if value is None and self.legacy and not self.sample:
            value = self.cache.get(f"{self.legacy}:{key}")
        return value if value is not None else default

    def set(self, key: str, value: CreateResult) -> None:
        if is_cacheable(value):
            self.cache.set(self._key(key), {"result": value.model_dump(mode="json"), "max_tokens": self.max_tokens})


@dataclass
class CallStats:
    network: int = 0  # calls that reached the endpoint (including failed ones)
    cached: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_cache_hit_tokens: int = 0  # of prompt_tokens, served from the provider's cache (billed lower)

    def add(self, other: "CallStats") -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))


class CachedClient(ChatCompletionCache):
    """AutoGen's ChatCompletionCache plus retries with backoff and call accounting."""

    def __init__(self, client: ChatCompletionClient, store: DiskCallStore, *, max_retries: int = 5, backoff_s: float = 1.0, role: str = "",
                 settings: ModelRole | None = None):
        super().__init__(client, store)
        self.settings = settings  # the role's endpoint and model, named in failures
        self.last_error: EndpointError | None = None
        self.stats = CallStats()
        self.last_result: CreateResult | None = None  # the Verifier reads the Solver's finish_reason here
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.role = role

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Any] = [],
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        attempt = 0
        while True:
            # ChatCompletionCache.create, with one lookup instead of two and hits counted apart from
            # network calls (CreateResult.cached cannot tell: AutoGen's replay client marks every reply cached).
            cached, cache_key = self._check_cache(messages, tools, json_output, extra_create_args)
            if isinstance(cached, CreateResult):
                self.stats.cached += 1
                cached.cached = True
                self.last_result = cached
                return cached
            self.stats.network += 1
            try:
                with provider_cache.capture() as hits:
                    result = await self.client.create(
                        messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                        extra_create_args=extra_create_args, cancellation_token=cancellation_token,
                    )
                self.store.set(cache_key, result)
                if result.usage:
                    self.stats.prompt_tokens += result.usage.prompt_tokens
                    self.stats.completion_tokens += result.usage.completion_tokens
                    self.stats.prompt_cache_hit_tokens += min(sum(hits), result.usage.prompt_tokens)
                if result.finish_reason != "length" and not result.content:
                    raise EmptyResponse("empty response body")
                self.last_result = result
                return result
            except Exception as exc:
                kind = classify(exc)
                limit = min(self.max_retries, UNREACHABLE_RETRIES) if kind == "unreachable" else self.max_retries
                if kind not in ("overloaded", "unreachable") or attempt >= limit:
                    self.stats.failed += 1
                    self.last_error = to_endpoint_error(exc, self.role, self.settings)
                    log.debug("%s failed", self.last_error.where, exc_info=exc)
                    raise self.last_error from exc
                attempt += 1
                self.stats.retries += 1
                delay = retry_after(exc) or self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random())
                if kind == "unreachable":
                    delay = min(delay, 0.5)
                said = (where(self.role, self.settings), type(exc).__name__)
                level = logging.DEBUG if said in _RETRIES_SAID else logging.WARNING  # one terminal line per cause
                _RETRIES_SAID.add(said)
                log.log(level, "%s: %s; retry %d/%d in %.1fs%s", *said, attempt, limit, delay,
                        "" if level == logging.DEBUG else " (further retries of this kind go to the log file)")
                await asyncio.sleep(delay)


    def fork(self, role: str | None = None, *, sample: int = 0) -> "CachedClient":
        """A client sharing the HTTP connection and the disk cache, with its own accounting; `sample` k > 0
        keys the cache apart, so repeating a request gives (and keeps) an independent k-th sample."""
        store = self.store.for_sample(sample)  # type: ignore[attr-defined]
        return CachedClient(self.client, store, max_retries=self.max_retries, backoff_s=self.backoff_s, role=role or self.role,
                            settings=self.settings)


def model_info_for(role: ModelRole) -> ModelInfo:
    return ModelInfo(vision=False, function_calling=False, json_output=True, family=guess_family(role), structured_output=False)


def open_cache(cache_dir: Path) -> diskcache.Cache:
    return open_disk_store(cache_dir)


def build_client(
    role: ModelRole,
    cache: diskcache.Cache,
    *,
    role_name: str = "",
    inner: ChatCompletionClient | None = None,
    http_client: Any = None,
) -> CachedClient:
    """An OpenAI-compatible client for `role`, cached on disk. `inner` replaces the HTTP client in tests;
    `http_client` (an httpx AsyncClient) lets roles on one endpoint share a connection pool."""
    if inner is None:
        from autogen_ext.models.openai import OpenAIChatCompletionClient

        provider_cache.install()
        key = role.api_key()
        if role.api_key_env and not key and "127.0.0.1" not in role.base_url and "localhost" not in role.base_url:
            hint = ", or pass --no-judge" if role_name == "judge" else ""
            raise DistillError(f"the {role_name or 'model'} role needs an API key in ${role.api_key_env} "
                               f"(set it, or set api_key_env = \"\" for a keyless endpoint{hint})")
        inner = OpenAIChatCompletionClient(
            model=role.model,
            base_url=role.base_url,
            api_key=key or "not-needed",
            temperature=role.temperature,
            top_p=role.top_p,
            max_tokens=role.max_tokens,
            timeout=role.timeout_s,
            max_retries=0,  # retries happen in CachedClient, which also retries empty bodies
            model_info=model_info_for(role),
            **({"http_client": http_client} if http_client is not None else {}),
        )
    store = DiskCallStore(cache, client_namespace(role), max_tokens=role.max_tokens, legacy=legacy_namespace(role))
    return CachedClient(inner, store, max_retries=role.max_retries, backoff_s=role.backoff_s, role=role_name, settings=role)


def build_role_clients(roles: Mapping[str, ModelRole], cache: diskcache.Cache) -> dict[str, CachedClient]:
    """One cached client per role; roles on the same endpoint share one connection pool, so a
    conversation's Solver and Formatter calls reuse the same connections (and the pool has fewer idle
    connections to check on every request)."""
    from openai import DefaultAsyncHttpxClient

    pools: dict[str, Any] = {}
    clients = {}
    for name, role in roles.items():
        endpoint = role.base_url.rstrip("/")
        if endpoint not in pools:
            pools[endpoint] = DefaultAsyncHttpxClient()
        pool = pools[endpoint]
        clients[name] = build_client(role, cache, role_name=name, http_client=pool)
    return clients


def describe_role(role: ModelRole) -> dict[str, Any]:
    """What transcripts and reports record about a model: never the key."""
    return {
        "base_url": role.base_url,
        "model": role.model,
        "family": str(guess_family(role)),
        "temperature": role.temperature,
        "top_p": role.top_p,
        "max_tokens": role.max_tokens,
        "cache_namespace": client_namespace(role),
    }


__all__ = ["CachedClient", "CallStats", "DiskCallStore", "build_client", "build_role_clients", "client_namespace", "describe_role", "open_cache"]
