"""Model clients for the roles, behind one on-disk model-call cache.

Cache key (documented, see `client_namespace`): sha256 over
  namespace = canonical JSON of {role's base_url (a loopback one without its port), model, family, temperature, top_p}
  + the sample index, for the 2nd, 3rd, ... independent sample of the same request
  + `call_key` = sha256 of the canonical JSON of the messages sent
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

import hashlib
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import diskcache
from autogen_core import CacheStore, CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelFamily,
    ModelInfo,
    RequestUsage,
)

from distill.config import ModelRole
from distill.errors import EndpointError
from distill.io import content_hash, open_disk_store
from distill.reasoning import field_thinking, join_deltas, split_reply

from . import provider_cache
from .endpoint import CallStats, RetryPolicy, check_key, openai_client
from .failures import EmptyResponse

log = logging.getLogger("distill.models")
# R1 replies from an API that returns reasoning_content carry no <think> tags; AutoGen warns each time.
warnings.filterwarnings("ignore", message="Could not find <think>", category=UserWarning)

CACHE_FORMAT = 2  # 1 had max_tokens in the namespace; its entries are still read (see DiskCallStore)


def _reasoning_part(role: ModelRole) -> dict[str, str]:
    """The role's reasoning shape decides what a cached reply holds; `auto` (the default) leaves older keys as they were."""
    return {} if role.reasoning == "auto" else {"reasoning": role.reasoning}


def endpoint_identity(url: str) -> str:
    """What a base URL contributes to cache keys and fingerprints: a remote endpoint is its URL; a loopback one
    (127.0.0.1, localhost, ::1) is `loopback` and its path, because its port is chosen at random and a moved or
    copied workspace must find its calls cached (the served model and the request decide the reply)."""
    from urllib.parse import urlsplit

    u = urlsplit(url.rstrip("/"))
    if u.hostname in ("127.0.0.1", "localhost", "::1"):
        return "loopback" + (u.path or "")
    return url.rstrip("/")


def client_namespace(role: ModelRole) -> str:
    """The part of every cache key that names the model and how it samples."""
    return content_hash({"format": CACHE_FORMAT, "base_url": endpoint_identity(role.base_url), "model": role.model,
                         "family": guess_family(role), "temperature": role.temperature, "top_p": role.top_p, **_reasoning_part(role)}, 32)


def legacy_namespace(role: ModelRole) -> str:
    """Format 1 (max_tokens in the key): read so that an older cache is not paid for twice."""
    return content_hash({"format": 1, "base_url": role.base_url.rstrip("/"), "model": role.model, "family": guess_family(role),
                         "temperature": role.temperature, "top_p": role.top_p, "max_tokens": role.max_tokens, **_reasoning_part(role)}, 32)


def guess_family(role: ModelRole) -> str:
    if role.family:
        return role.family
    name = role.model.lower()
    return ModelFamily.R1 if ("reasoner" in name or "r1" in name) else ModelFamily.UNKNOWN


def with_thinking(result: CreateResult, message: Mapping[str, Any] | None, shape: str) -> CreateResult:
    """The reply's thinking in `thought` and only the answer in `content`, whichever way the server sent it
    (AutoGen reads `reasoning_content` and, for the R1 family, complete `<think>` tags; not `reasoning`,
    nor a block the chat template opened). The answer alone is what later turns send back."""
    if not isinstance(result.content, str) or shape == "none":
        return result
    if result.thought is not None:
        return result
    thinking, answer = split_reply(result.content, message, shape)  # type: ignore[arg-type]
    if thinking is None:
        return result
    return result.model_copy(update={"thought": thinking, "content": answer})


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


def call_key(messages: Sequence[LLMMessage], tools: Sequence[Any], json_output: Any, extra_create_args: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of what is sent: the rendered messages, tools, json_output and extra
    create args (the same formula as AutoGen's ChatCompletionCache, so caches written through it still hit)."""
    from pydantic import BaseModel

    if isinstance(json_output, type) and issubclass(json_output, BaseModel):
        json_out: Any = json.dumps(json_output.model_json_schema())
    else:
        json_out = json_output if isinstance(json_output, bool) else None
    data = {"messages": [m.model_dump() for m in messages], "tools": [getattr(t, "schema", t) for t in tools],
            "json_output": json_out, "extra_create_args": extra_create_args}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class OverBudget(Exception):
    """The cost cap leaves no room for this call's worst case: it is not made."""


class CallGate(Protocol):
    """Admits each network call against a spending cap: `reserve` returns a ticket (None: refused),
    `settle` releases it with the call's result (None when the call failed)."""

    def reserve(self, messages: Sequence[LLMMessage]) -> Any: ...

    def settle(self, ticket: Any, result: CreateResult | None) -> None: ...


class CachedClient(ChatCompletionClient):
    """A role's model client: the disk cache, the shared retry/failover policy (`endpoint.RetryPolicy`)
    and call accounting, over one AutoGen client per base URL (built on `endpoint.openai_client`)."""

    def __init__(self, inner: ChatCompletionClient | Mapping[str, ChatCompletionClient], store: DiskCallStore, *,
                 policy: RetryPolicy, gate: CallGate | None = None):
        self.inner = dict(inner) if isinstance(inner, Mapping) else {url: inner for url in policy.role.urls}
        self.store, self.policy, self.gate = store, policy, gate
        self.settings, self.role = policy.role, policy.role_name  # named in failures
        self.last_error: EndpointError | None = None
        self.last_result: CreateResult | None = None
        self.stats = CallStats()

    @property
    def client(self) -> ChatCompletionClient:
        return next(iter(self.inner.values()))

    async def create(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = [], tool_choice: Any = "auto",
                     json_output: Any = None, extra_create_args: Mapping[str, Any] = {},
                     cancellation_token: CancellationToken | None = None) -> CreateResult:
        key = call_key(messages, tools, json_output, extra_create_args)
        cached = self.store.get(key)
        if cached is not None:
            try:
                result = cached if isinstance(cached, CreateResult) else CreateResult.model_validate(cached)
            except Exception:  # an unreadable entry is a miss, not a failure
                result = None
            if result is not None:
                self.stats.cached += 1
                result.cached = True
                self.last_result = result
                return result

        async def attempt(url: str) -> CreateResult:
            with provider_cache.capture() as hits, provider_cache.capture_messages() as raw:
                if self.settings.stream:
                    result, message, cached_tokens = await self._streamed(url, messages, tools, tool_choice, json_output, extra_create_args,
                                                                          cancellation_token)
                    hits.append(cached_tokens)
                else:
                    result = await self.inner[url].create(messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                                                          extra_create_args=extra_create_args, cancellation_token=cancellation_token)
                    message = raw[-1] if raw else None
            result = with_thinking(result, message, self.settings.reasoning)
            self.store.set(key, result)
            if result.usage:
                self.stats.prompt_tokens += result.usage.prompt_tokens
                self.stats.completion_tokens += result.usage.completion_tokens
                self.stats.prompt_cache_hit_tokens += min(sum(hits), result.usage.prompt_tokens)
            if result.finish_reason != "length" and not result.content:
                raise EmptyResponse("empty response body")
            return result

        ticket = self.gate.reserve(messages) if self.gate is not None else None
        if self.gate is not None and ticket is None:
            raise OverBudget(f"{self.role}: the cost cap leaves no room for another call")
        result = None
        try:
            result = await self.policy.call(attempt, self.stats)
        except EndpointError as exc:
            self.last_error = exc
            raise
        finally:
            if self.gate is not None:
                self.gate.settle(ticket, result)
        self.last_result = result
        return result

    async def _streamed(self, url: str, messages: Sequence[LLMMessage], tools: Sequence[Any], tool_choice: Any, json_output: Any,
                        extra_create_args: Mapping[str, Any], cancellation_token: CancellationToken | None) -> tuple[CreateResult, dict[str, Any], int]:
        """One call as server-sent events (`stream = true`): AutoGen's result of the whole stream, the raw
        deltas joined into one message (AutoGen's stream reader keeps `reasoning_content` only) and the
        provider-cached prompt tokens its usage chunk reports."""
        args = {**extra_create_args, "stream_options": {"include_usage": True}}  # usage arrives in the last chunk
        result: CreateResult | None = None
        with provider_cache.capture_deltas() as deltas:
            async for item in self.inner[url].create_stream(messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                                                            extra_create_args=args, cancellation_token=cancellation_token):
                if isinstance(item, CreateResult):
                    result = item
        if result is None:
            raise EmptyResponse("the stream ended without a result")
        message = join_deltas(deltas)
        if self.settings.reasoning != "none" and field_thinking(message) is not None:
            result = result.model_copy(update={"thought": None})  # read from the deltas themselves: AutoGen trims the thought's edges
        cached_tokens = sum(provider_cache.cache_hit_tokens(d["usage"]) for d in deltas if "usage" in d)
        return result, message, cached_tokens

    def create_stream(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("distill's model clients return whole replies (a role's stream setting streams inside create)")

    async def close(self) -> None:
        for c in self.inner.values():
            await c.close()

    def actual_usage(self) -> RequestUsage:
        return self.client.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self.client.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = []) -> int:
        return self.client.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = []) -> int:
        return self.client.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> Any:  # type: ignore[override]
        return self.client.capabilities

    @property
    def model_info(self) -> ModelInfo:
        return self.client.model_info

    def fork(self, role: str | None = None, *, sample: int = 0, gate: CallGate | None = None) -> "CachedClient":
        """A client sharing the HTTP connections, the endpoints' health and the disk cache, with its own
        accounting (and `gate`, when given); `sample` k > 0 keys the cache apart, so repeating a request
        gives (and keeps) an independent k-th sample."""
        policy = self.policy if role is None or role == self.role else RetryPolicy(self.settings, role, self.policy.pool)
        return CachedClient(self.inner, self.store.for_sample(sample), policy=policy, gate=gate or self.gate)


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
    """An OpenAI-compatible client for `role` (one AutoGen client per base URL), cached on disk. `inner`
    replaces the HTTP clients in tests; `http_client` (an httpx AsyncClient) lets roles on one endpoint
    share a connection pool."""
    policy = RetryPolicy.of(role, role_name)
    if inner is None:
        from autogen_ext.models.openai import BaseOpenAIChatCompletionClient

        provider_cache.install()
        key = check_key(role, role_name)
        create_args = {"model": role.model, "temperature": role.temperature, "top_p": role.top_p, "max_tokens": role.max_tokens}
        inners: Any = {url: BaseOpenAIChatCompletionClient(openai_client(role, url, key, http_client if url == role.base_url else None),
                                                           create_args=create_args, model_info=model_info_for(role))
                       for url in role.urls}
    else:
        inners = inner
    store = DiskCallStore(cache, client_namespace(role), max_tokens=role.max_tokens, legacy=legacy_namespace(role))
    return CachedClient(inners, store, policy=policy)


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
        clients[name] = build_client(role, cache, role_name=name, http_client=pools[endpoint])
    return clients


def describe_role(role: ModelRole) -> dict[str, Any]:
    """What transcripts, fingerprints and reports record about a model: never the key; a loopback endpoint without
    its random port (endpoint_identity)."""
    return {
        "base_url": endpoint_identity(role.base_url),
        "model": role.model,
        "family": str(guess_family(role)),
        "temperature": role.temperature,
        "top_p": role.top_p,
        "max_tokens": role.max_tokens,
        "cache_namespace": client_namespace(role),
    }


__all__ = ["CachedClient", "CallGate", "CallStats", "OverBudget", "DiskCallStore", "build_client", "build_role_clients", "client_namespace", "describe_role", "endpoint_identity", "open_cache"]
