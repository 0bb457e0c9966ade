"""Prompt tokens the provider served from its own context cache, per call.

Providers bill these at a lower price (DeepSeek: `usage.prompt_cache_hit_tokens`; OpenAI, vLLM:
`usage.prompt_tokens_details.cached_tokens`), but AutoGen's `CreateResult.usage` keeps only prompt
and completion tokens. The raw response's usage reaches AutoGen's event logger as an `LLMCallEvent`
from inside the model call, in the caller's task, so `capture()` collects it there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from autogen_core import EVENT_LOGGER_NAME
from autogen_core.logging import LLMCallEvent

_cell: ContextVar[list[int] | None] = ContextVar("distill_provider_cache_cell", default=None)
_messages: ContextVar[list[dict[str, Any]] | None] = ContextVar("distill_raw_messages_cell", default=None)


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
def capture() -> Iterator[list[int]]:
    """Within the block, each model call's provider-cached prompt tokens are appended to the list."""
    cell: list[int] = []
    token = _cell.set(cell)
    try:
        yield cell
    finally:
        _cell.reset(token)


@contextlib.contextmanager
def capture_messages() -> Iterator[list[dict[str, Any]]]:
    """Within the block, each model call's raw reply message (with fields AutoGen drops, such as
    `reasoning`) is appended to the list."""
    cell: list[dict[str, Any]] = []
    token = _messages.set(cell)
    try:
        yield cell
    finally:
        _messages.reset(token)


__all__ = ["cache_hit_tokens", "capture", "capture_messages", "install"]
