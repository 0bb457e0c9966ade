"""Prompt tokens the provider served from its own context cache, per call.

Providers bill these at a lower price (DeepSeek: `usage.prompt_cache_hit_tokens`; OpenAI, vLLM:
`usage.prompt_tokens_details.cached_tokens`), but AutoGen's `CreateResult.usage` keeps only prompt
and completion tokens. The raw response's usage reaches AutoGen's event logger as an `LLMCallEvent`
from inside the model call, in the caller's task, so `capture()` collects it there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from autogen_core import EVENT_LOGGER_NAME
from autogen_core.logging import LLMCallEvent

_cell: ContextVar[list[int] | None] = ContextVar("distill_provider_cache_cell", default=None)
_messages: ContextVar[list[dict[str, Any]] | None] = ContextVar("distill_raw_messages_cell", default=None)
_deltas: ContextVar[list[dict[str, Any]] | None] = ContextVar("distill_raw_deltas_cell", default=None)


def cache_hit_tokens(usage: Mapping[str, Any] | None) -> int:
    """Cached prompt tokens in an OpenAI-compatible usage object (0 when the provider reports none)."""
    if not usage:
        return 0
    if usage.get("prompt_cache_hit_tokens") is not None:  # DeepSeek
        return int(usage["prompt_cache_hit_tokens"] or 0)
    details = usage.get("prompt_tokens_details") or {}
    return int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0


class _Tap(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        cell = _cell.get()
        if not isinstance(record.msg, LLMCallEvent):
            return
        response = record.msg.kwargs.get("response") or {}
        if cell is not None:
            cell.append(cache_hit_tokens(response.get("usage") if isinstance(response, Mapping) else None))
        messages = _messages.get()
        if messages is not None:
            choices = response.get("choices") if isinstance(response, Mapping) else None
            first = choices[0] if choices else {}
            messages.append(dict(first.get("message") or {}) if isinstance(first, Mapping) else {})


def install() -> None:
    """Listen on AutoGen's event logger (once per process). Its events stop there: they hold whole
    prompts and replies, which do not belong in distill.log."""
    logger = logging.getLogger(EVENT_LOGGER_NAME)
    if not any(isinstance(h, _Tap) for h in logger.handlers):
        logger.addHandler(_Tap())
        logger.setLevel(logging.INFO)
        logger.propagate = False


@contextlib.contextmanager
def _collecting(var: ContextVar[Any]) -> Iterator[list[Any]]:
    cell: list[Any] = []
    token = var.set(cell)
    try:
        yield cell
    finally:
        var.reset(token)


def capture() -> contextlib.AbstractContextManager[list[int]]:
    """Within the block, each model call's provider-cached prompt tokens are appended to the list."""
    return _collecting(_cell)


def capture_messages() -> contextlib.AbstractContextManager[list[dict[str, Any]]]:
    """Within the block, each model call's raw reply message (with fields AutoGen drops, such as
    `reasoning`) is appended to the list."""
    return _collecting(_messages)


def capture_deltas() -> contextlib.AbstractContextManager[list[dict[str, Any]]]:
    """Within the block, each streamed chunk's raw delta (with the `reasoning` field AutoGen's stream
    reader drops) and any usage chunk (as {"usage": ...}) are appended to the list."""
    return _collecting(_deltas)


def tap_stream(stream: Any) -> Any:
    """`stream` as it is, or, inside `capture_deltas()`, an iterator over the same chunks that records
    their raw deltas on the way through (the list is shared with the tasks AutoGen reads chunks in)."""
    cell = _deltas.get()
    if cell is None:
        return stream

    async def chunks() -> AsyncIterator[Any]:
        async for chunk in stream:
            for choice in getattr(chunk, "choices", None) or []:
                cell.append(choice.delta.model_dump(exclude_none=True) if choice.delta is not None else {})
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                cell.append({"usage": usage.model_dump(exclude_none=True)})
            yield chunk

    return chunks()


__all__ = ["cache_hit_tokens", "capture", "capture_deltas", "capture_messages", "install", "tap_stream"]
