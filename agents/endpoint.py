"""The one way distill talks to an OpenAI-compatible endpoint, for every role (solver, verifier,
judge, student): the only place an `AsyncOpenAI` client is built, the key check, the retry policy
(classified failures, `Retry-After`, backoff with jitter) and failover over several base URLs.

Failover is per endpoint, not per worker: each base URL has a circuit breaker shared by every call of
the role (`Health`). A call goes to the least busy URL whose breaker takes calls; a retryable failure
sends it to another at once. A URL that fails `DROP_AFTER` times in a row (or answers with Retry-After)
opens for a cool-down that doubles, with jitter, while it keeps failing; then one probe call decides,
and a recovered URL takes its share again. When every breaker is open, calls wait for the first to
half-open; a call with no other URL left backs off and retries as a single endpoint does.
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
    _tap_streams(client)
    return client


def _tap_streams(client: Any) -> None:
    """The SDK's own `chat.completions.create`, public path only; a streamed reply passes provider_cache's tap (which
    records the raw deltas AutoGen's reader would drop). No private name of the SDK is used (tests/test_private_names.py)."""
    completions = client.chat.completions
    original = completions.create

    async def create(*args: Any, **params: Any):
        reply = await original(*args, **params)
        return provider_cache.tap_stream(reply) if params.get("stream") else reply

    completions.create = create


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


COOL_DOWN_S = 1.0  # the first open period of a breaker; it doubles (with jitter) while the endpoint keeps failing
MAX_COOL_DOWN_S = 60.0
PROBE_WAIT_S = 0.05


@dataclass
class Health:
    """One base URL's circuit breaker. Closed: calls go. After DROP_AFTER consecutive overload or connection
    failures it opens for a cool-down (or the server's Retry-After); then it is half-open and one probe call
    decides: success closes it (the endpoint takes its share again), failure opens it for twice as long."""

    in_flight: int = 0
    failures: int = 0  # consecutive
    served: int = 0
    failed: int = 0  # every overload or connection failure, for the run's summary
    open_until: float = 0.0  # monotonic time the breaker stays open until (0: closed)
    cool_down: float = field(default_factory=lambda: COOL_DOWN_S)
    probing: bool = False  # a half-open breaker's one probe call is out
    open_s: float = 0.0  # total time spent open
    opened_at: float | None = None

    def state(self, now: float) -> str:
        if self.open_until == 0.0:
            return "closed"
        return "open" if now < self.open_until else "half-open"

    def can_take(self, now: float) -> bool:
        st = self.state(now)
        return st == "closed" or (st == "half-open" and not self.probing)

    def failure(self, now: float, retry_after_s: float | None = None) -> None:
        self.failures += 1
        self.failed += 1
        half_open = self.state(now) == "half-open"
        if half_open or self.failures >= DROP_AFTER or retry_after_s:
            if half_open:
                self.cool_down = min(MAX_COOL_DOWN_S, self.cool_down * 2)
            wait = retry_after_s if retry_after_s else self.cool_down * (0.75 + 0.5 * random.random())
            if self.opened_at is None:
                self.opened_at = now
            self.open_until = now + wait

    def success(self, now: float) -> None:
        if self.opened_at is not None:
            self.open_s += now - self.opened_at
        self.failures, self.served = 0, self.served + 1
        self.open_until, self.cool_down, self.opened_at = 0.0, COOL_DOWN_S, None

    def report(self, now: float) -> dict[str, Any]:
        still = now - self.opened_at if self.opened_at is not None else 0.0
        return {"served": self.served, "failures": self.failed, "open_s": round(self.open_s + still, 3), "state": self.state(now)}


def _now() -> float:
    import time

    return time.monotonic()


@dataclass
class EndpointPool:
    """Health (a circuit breaker) of every base URL of one role, shared by all of the role's calls."""

    urls: Sequence[str]
    health: dict[str, Health] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.health = {u: Health() for u in self.urls}
        # one URL has nothing to fail over to: its calls back off as a single endpoint does (the breaker stays closed)
        self.breakers = len(self.urls) > 1

    def choose(self, avoid: set[str]) -> tuple[str, float]:
        """(url, wait): the least busy URL whose breaker takes a call, preferring those not in `avoid`; when every
        breaker is open, the one that half-opens first and how long to wait for it (no URL is hammered)."""
        now = _now()
        ready = [u for u in self.urls if self.health[u].can_take(now)]
        fresh = [u for u in ready if u not in avoid]
        if fresh or ready:
            return min(fresh or ready, key=lambda u: self.health[u].in_flight), 0.0
        first = min(self.urls, key=lambda u: self.health[u].open_until)
        # open: until it half-opens; half-open with its probe out: a moment, until the probe has decided
        return first, max(self.health[first].open_until - now, PROBE_WAIT_S)

    def others_up(self, url: str, avoid: set[str]) -> bool:
        now = _now()
        return any(self.health[u].can_take(now) and u != url and u not in avoid for u in self.urls)

    def report(self) -> dict[str, dict[str, Any]]:
        """Per URL: calls served, failures, seconds its breaker was open, and its state now."""
        now = _now()
        return {u: self.health[u].report(now) for u in self.urls}


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
        """`attempt_at(url)` until it succeeds, with failover, circuit breakers and backoff; raises a classified EndpointError."""
        attempt, tried = 0, set()
        while True:
            url, wait = self.pool.choose(tried)
            waits = 0
            while wait > 0 and waits < max(1, self.role.max_retries):  # every breaker open: wait for the first to half-open
                waits += 1
                await asyncio.sleep(min(wait, MAX_COOL_DOWN_S))
                url, wait = self.pool.choose(tried)  # (after as many waits as retries, the call goes anyway: its answer decides)
            h = self.pool.health[url]
            probe = h.state(_now()) == "half-open"
            if probe:
                h.probing = True
            stats.network += 1
            h.in_flight += 1
            try:
                result = await attempt_at(url)
            except Exception as exc:
                kind = classify(exc)
                if kind in ("overloaded", "unreachable"):
                    if self.pool.breakers:
                        h.failure(_now(), retry_after(exc))
                    else:
                        h.failures, h.failed = h.failures + 1, h.failed + 1
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
            finally:  # a cancelled call (Ctrl-C, a task the study cancels) leaves every count right
                h.in_flight -= 1
                if probe:
                    h.probing = False
            h.success(_now())
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
