"""Token usage: the one shape every record (transcript, level text, response) stores it in."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Usage(BaseModel):
    """Tokens a model call (or a sum of calls) consumed, as the endpoint reported them."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens)

    @classmethod
    def of(cls, usage: object | None) -> "Usage":
        """From AutoGen's RequestUsage (or anything with the two attributes); zero when absent."""
        if usage is None:
            return cls()
        return cls(prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                   completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0))

    @classmethod
    def sum(cls, items: "list[Usage] | tuple[Usage, ...]") -> "Usage":
        out = cls()
        for u in items:
            out = out + u
        return out
