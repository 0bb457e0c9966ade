"""One place that turns a chat reply into (thinking, answer), whichever way the server sent the thinking.

Servers differ: DeepSeek's API puts it in `message.reasoning_content`; vLLM's reasoning parsers (newer
releases), mlx_lm.server, OpenRouter and others in `message.reasoning`; servers without a parser leave it
inline in `content` between `<think>` and `</think>`, or with the opening tag left to the chat template
(only `</think>` appears). A stream carries the same fields on each `delta`.

A role's `reasoning` setting says which to expect: `auto` (a field when one is present, else inline tags),
`field`, `inline`, or `none` (the content is all answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

ReasoningShape = Literal["auto", "field", "inline", "none"]
REASONING_FIELDS = ("reasoning_content", "reasoning")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_OPEN = re.compile(r"^\s*<think>\s*", re.I)
_CLOSE = re.compile(r"\s*</think>\s*", re.I)


def field_thinking(message: Mapping[str, Any] | None) -> str | None:
    """The thinking a server sent beside the content (`reasoning_content` or `reasoning`), if any."""
    if not message:
        return None
    for name in REASONING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:  # even whitespace: a model thinking in newlines is still thinking
            return value
    return None


def split_inline(content: str) -> tuple[str | None, str]:
    """`<think>a</think>b`, or `a</think>b` when the template opened the block -> (a, b); `<think>a` with
    no close -> (a, ""): the reply is still thinking. Text without tags is all answer."""
    close = _CLOSE.search(content)
    if close:
        return _OPEN.sub("", content[:close.start()]).strip() or None, content[close.end():].strip()
    if _OPEN.match(content):
        return _OPEN.sub("", content).strip() or None, ""
    return None, content


def split_reply(content: str | None, message: Mapping[str, Any] | None = None,
                shape: ReasoningShape = "auto") -> tuple[str | None, str]:
    """(thinking, answer) of one reply; `message` is the raw message (or the joined stream deltas)."""
    content = content or ""
    if shape == "none":
        return None, content
    thinking = field_thinking(message) if shape in ("auto", "field") else None
    if thinking is not None:
        _, answer = split_inline(content) if THINK_CLOSE in content.lower() else (None, content)
        return thinking, answer  # a stray inline block beside a field is dropped from the answer
    if shape == "field":
        return None, content
    return split_inline(content)


def join_deltas(deltas: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """A stream's deltas joined into one message: `content` and whichever reasoning field it used."""
    out: dict[str, list[str]] = {}
    for d in deltas:
        for name in ("content", *REASONING_FIELDS):
            value = d.get(name)
            if isinstance(value, str) and value:
                out.setdefault(name, []).append(value)
    return {k: "".join(v) for k, v in out.items()}


def as_text(thinking: str | None, answer: str, still_thinking: bool = False) -> str:
    """One text in the inline convention the rest of the tool reads (grading looks after `</think>`):
    the thinking in a closed block before the answer, or an open block when the reply was cut inside it."""
    if thinking is None:
        return answer
    if still_thinking and not answer:
        return f"{THINK_OPEN}\n{thinking}"
    return f"{THINK_OPEN}\n{thinking}\n{THINK_CLOSE}\n\n{answer}"


__all__ = ["REASONING_FIELDS", "ReasoningShape", "as_text", "field_thinking", "join_deltas", "split_inline", "split_reply"]
