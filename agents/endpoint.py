"""The one way distill talks to an OpenAI-compatible endpoint, for every role (solver, verifier,
judge, student): the only place an `AsyncOpenAI` client is built, the key check, the retry policy
(classified failures, `Retry-After`, backoff with jitter) and failover over several base URLs.

Failover is per endpoint, not per worker: each base URL has a health record shared by every call
of the role. A call goes to the healthy URL with the fewest calls in flight; a retryable failure
sends it to another healthy URL at once, and a URL that fails `DROP_AFTER` times in a row is out
of the run. When no other URL is left, the call backs off and retries as a single endpoint does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from distill.config import ModelRole
from distill.reasoning import field_thinking, join_deltas
from distill.errors import DistillError

from . import provider_cache
from .failures import UNREACHABLE_RETRIES, classify, retry_after, to_endpoint_error, where

log = logging.getLogger("distill.models")
T = TypeVar("T")
DROP_AFTER = 2  # consecutive failures that take a base URL out of the run
_RETRIES_SAID: set[tuple[str, str]] = set()


def is_local(url: str) -> bool:
    return "127.0.0.1" in url or "localhost" in url


def check_key(role: ModelRole, role_name: str) -> str | None:
    """The role's key, or a one-line error before the first call when a remote endpoint needs one."""
    key = role.api_key()
    if role.api_key_env and not key and not all(is_local(u) for u in role.urls):
        hint = ", or pass --no-judge" if role_name == "judge" else ""
        raise DistillError(f"the {role_name or 'model'} role needs an API key in ${role.api_key_env} "
                           f"(set it, or set api_key_env = \"\" for a keyless endpoint{hint})")
    return key


def openai_client(role: ModelRole, base_url: str, key: str | None, http_client: Any = None):
    """An `AsyncOpenAI` for one base URL of `role`; its own retries are off (the policy below retries)."""
    from openai import AsyncOpenAI

    extra = {"http_client": http_client} if http_client is not None else {}
    client = AsyncOpenAI(base_url=base_url, api_key=key or "not-needed", timeout=role.timeout_s, max_retries=0, **extra)
    _lean_chat_create(client)
    return client


def _lean_chat_create(client: Any) -> None:
    """Chat requests whose parameters are plain JSON data go out as they are. The SDK's `create` first walks
    them against its TypedDict annotations (~1 ms of CPU per call, a quarter of what a call costs distill
    against a fast endpoint) and, for such data, returns them unchanged (a test checks the bodies are the
    same). Anything else, a stream included, takes the SDK's own path; so does an SDK without these helpers."""
    try:
        from openai import NOT_GIVEN, NotGiven, Omit
        from openai._base_client import make_request_options
        from openai.types.chat import ChatCompletion
    except ImportError:  # pragma: no cover - a future SDK moved them: keep its own path
        return
    completions = client.chat.completions
    original = completions.create

    async def create(*, extra_headers: Any = None, extra_query: Any = None, extra_body: Any = None, timeout: Any = NOT_GIVEN, **params: Any):
        body = {k: v for k, v in params.items() if not isinstance(v, (NotGiven, Omit))}
        if body.get("stream") or not all(_plain(v) for v in body.values()):
            reply = await original(extra_headers=extra_headers, extra_query=extra_query, extra_body=extra_body, timeout=timeout, **params)
            return provider_cache.tap_stream(reply) if body.get("stream") else reply
        options = make_request_options(extra_headers=extra_headers, extra_query=extra_query, extra_body=extra_body, timeout=timeout,
                                       security={"bearer_auth": True})
        return await completions._post("/chat/completions", body=body, options=options, cast_to=ChatCompletion, stream=False)

    completions.create = create


def _plain(v: Any) -> bool:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return True
    if type(v) is dict:
        return all(type(k) is str and _plain(x) for k, x in v.items())
    if type(v) is list:
        return all(_plain(x) for x in v)
    return False


@dataclass
class CallStats:
    network: int = 0  # calls that reached an endpoint (including failed ones)
    cached: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_cache_hit_tokens: int = 0  # of prompt_tokens, served from the provider's cache (billed lower)

    def add(self, other: "CallStats") -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))


@dataclass
class Health:
    in_flight: int = 0
    failures: int = 0  # consecutive
    served: int = 0

    @property
    def up(self) -> bool:
        return self.failures < DROP_AFTER


@dataclass
class EndpointPool:
    """Health of every base URL of one role, shared by all of the role's calls."""

    urls: Sequence[str]
    health: dict[str, Health] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.health = {u: Health() for u in self.urls}

    def choose(self, avoid: set[str]) -> str:
        """The least busy healthy URL not in `avoid`; else the least busy healthy one; else the first."""
        up = [u for u in self.urls if self.health[u].up]
        fresh = [u for u in up if u not in avoid]
        pool = fresh or up or list(self.urls[:1])
        return min(pool, key=lambda u: self.health[u].in_flight)

    def others_up(self, url: str, avoid: set[str]) -> bool:
        return any(self.health[u].up and u != url and u not in avoid for u in self.urls)


@dataclass
class RetryPolicy:
    """How one role retries: the role's settings, named in every failure line."""

    role: ModelRole
    role_name: str
    pool: EndpointPool

    @classmethod
    def of(cls, role: ModelRole, role_name: str) -> "RetryPolicy":
        return cls(role, role_name, EndpointPool(role.urls))

    async def call(self, attempt_at: Callable[[str], Awaitable[T]], stats: CallStats) -> T:
        """`attempt_at(url)` until it succeeds, with failover and backoff; raises a classified EndpointError."""
        attempt, tried = 0, set()
        while True:
            url = self.pool.choose(tried)
            h = self.pool.health[url]
            stats.network += 1
            h.in_flight += 1
            try:
                result = await attempt_at(url)
            except Exception as exc:
                h.in_flight -= 1
                kind = classify(exc)
                if kind in ("overloaded", "unreachable"):
                    h.failures += 1
                limit = min(self.role.max_retries, UNREACHABLE_RETRIES) if kind == "unreachable" else self.role.max_retries
                if kind in ("overloaded", "unreachable") and self.pool.others_up(url, tried | {url}):
                    tried.add(url)  # another endpoint may answer now: no wait
                    stats.retries += 1
                    continue
                if kind not in ("overloaded", "unreachable") or attempt >= limit:
                    stats.failed += 1
                    error = to_endpoint_error(exc, self.role_name, self.role.model_copy(update={"base_url": url}))
                    log.debug("%s failed", error.where, exc_info=exc)
                    raise error from exc
                attempt += 1
                stats.retries += 1
                tried = set()
                await asyncio.sleep(self._delay(exc, kind, attempt, limit, url))
                continue
            h.in_flight -= 1
            h.failures, h.served = 0, h.served + 1
            return result

    def _delay(self, exc: BaseException, kind: str, attempt: int, limit: int, url: str) -> float:
        delay = retry_after(exc) or self.role.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random())
        if kind == "unreachable":
            delay = min(delay, 0.5)
        said = (where(self.role_name, self.role.model_copy(update={"base_url": url})), type(exc).__name__)
        level = logging.DEBUG if said in _RETRIES_SAID else logging.WARNING  # one terminal line per cause
        _RETRIES_SAID.add(said)
        log.log(level, "%s: %s; retry %d/%d in %.1fs%s", *said, attempt, limit, delay,
                "" if level == logging.DEBUG else " (further retries of this kind go to the log file)")
        return delay


@dataclass
class Completion:
    text: str  # the content as sent
    tokens: int
    finish_reason: str
    url: str
    message: dict[str, Any] | None = None  # the raw message (or joined stream deltas), for its reasoning fields


class ChatEndpoint:
    """Raw chat completions for a role (a student's generations, which are not cached): the same key
    check, retry policy and failover as the cached AutoGen clients. Build it inside the event loop
    that uses it; pass a shared `pool` to keep the endpoints' health across loops."""

    def __init__(self, role: ModelRole, role_name: str, pool: EndpointPool | None = None):
        key = check_key(role, role_name)
        self.role = role
        self.policy = RetryPolicy(role, role_name, pool or EndpointPool(role.urls))
        self.clients = {u: openai_client(role, u, key) for u in role.urls}
        self.stats = CallStats()

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, top_p: float, seed: int,
                       extra_body: dict[str, Any] | None = None) -> Completion:
        async def attempt(url: str) -> Completion:
            args = dict(model=self.role.model, messages=messages, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                        seed=seed, extra_body=extra_body)
            if self.role.stream:
                return await streamed(url, args)
            r = await self.clients[url].chat.completions.create(**args)
            choice = r.choices[0]
            text = choice.message.content or ""
            message = choice.message.model_dump(exclude_none=True)
            return finish(url, text, r.usage, choice.finish_reason, message)

        def finish(url: str, text: str, usage: Any, finish_reason: str | None, message: dict[str, Any]) -> Completion:
            tokens = usage.completion_tokens if usage else len((text + " " + str(field_thinking(message) or "")).split())
            if usage:
                self.stats.prompt_tokens += usage.prompt_tokens
                self.stats.completion_tokens += usage.completion_tokens
            return Completion(text, tokens, finish_reason or "stop", url, message)

        async def streamed(url: str, args: dict[str, Any]) -> Completion:
            """The same completion as server-sent events: its deltas joined, usage from the last chunk."""
            stream = await self.clients[url].chat.completions.create(**args, stream=True, stream_options={"include_usage": True})
            deltas, usage, finish_reason = [], None, None
            async for chunk in stream:
                usage = chunk.usage or usage
                for c in chunk.choices:
                    deltas.append(c.delta.model_dump(exclude_none=True))
                    finish_reason = c.finish_reason or finish_reason
            message = join_deltas(deltas)
            return finish(url, message.get("content", ""), usage, finish_reason, message)

        return await self.policy.call(attempt, self.stats)

    async def close(self) -> None:
        for c in self.clients.values():
            await c.close()


async def preflight(role: ModelRole, role_name: str) -> None:
    """Fail before any work when a base URL refuses the key or cannot be reached (GET /models; a
    server without that route, or any other answer, counts as listening)."""
    key = check_key(role, role_name)
    for url in role.urls:
        client = openai_client(role.model_copy(update={"timeout_s": min(role.timeout_s, 10.0)}), url, key)
        try:
            await client.models.list()
        except Exception as exc:
            if classify(exc) in ("auth", "unreachable"):  # before any work: a setup problem, exit 2
                raise DistillError(to_endpoint_error(exc, role_name, role.model_copy(update={"base_url": url})).line()) from None
        finally:
            await client.close()


__all__ = ["CallStats", "ChatEndpoint", "Completion", "EndpointPool", "RetryPolicy", "check_key", "is_local", "openai_client", "preflight"]
