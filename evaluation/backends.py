"""Student generation backends behind one interface: local mlx-lm (batch_generate) or any
OpenAI-compatible server (mlx_lm.server, vLLM, llama.cpp, a hosted API)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from distill.config import ModelRole
from distill.errors import DistillError

Messages = list[dict[str, str]]


THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
FORCE_ANSWER = "\n</think>\n\nFinal answer:"  # s1's budget forcing: close the thinking, ask for the answer


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    thinking_budget: int | None = None  # tokens of thinking before the answer is forced (None: no budget)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    text: str
    tokens: int
    finish_reason: str  # stop | length | error
    forced: bool = False  # the thinking budget ran out and the answer was asked for
    endpoint: str | None = None


def thinking_open(text: str, prompt_text: str = "") -> bool:
    """A <think> block (opened in the reply, or by the chat template at the prompt's end) that has not closed."""
    if THINK_CLOSE in text:
        return False
    return THINK_OPEN in text or prompt_text.rstrip().endswith(THINK_OPEN)


class Backend(Protocol):
    def describe(self) -> dict[str, Any]: ...

    def check(self) -> None:
        """Fail fast, before any generation, with a one-line error."""

    def generate(self, prompts: Sequence[Messages], sampling: Sampling, seed: int,
                 on_batch: Callable[[int, list[Generation]], None] | None = None, seeds: Sequence[int] | None = None) -> list[Generation]: ...


class MlxBackend:
    """Local mlx-lm with an optional adapter; batches through `mlx_lm.batch_generate`."""

    def __init__(self, model: str, adapter: str | Path | None = None, batch_size: int = 8):
        self.model_path, self.adapter, self.batch_size = model, adapter, batch_size
        self._loaded: tuple[Any, Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {"backend": "mlx", "model": self.model_path, "adapter": str(self.adapter) if self.adapter else None, "batch_size": self.batch_size}

    def check(self) -> None:
        self.load()

    def load(self):
        if self._loaded is None:
            from distill.finetune.model import load_model

            try:
                self._loaded = load_model(self.model_path, self.adapter)
            except DistillError:
                raise
            except Exception as exc:  # e.g. an adapter trained for another model: shapes differ
                raise DistillError(f"adapter does not fit the model ({str(exc).splitlines()[0][:200]})", path=self.adapter) from None
        return self._loaded

    def prompt_ids(self, messages: Messages) -> list[int]:
        _, tok = self.load()
        return tok.apply_chat_template(messages, add_generation_prompt=True)

    def generate(self, prompts, sampling, seed, on_batch=None, seeds: Sequence[int] | None = None):
        """The prompts in batches from one random key seeded by `seed` (batched sampling draws for the whole batch at
        once, so a chunk of prompts, not one prompt, is what a seed reproduces; `seeds` is not used)."""
        import mlx.core as mx
        from mlx_lm import batch_generate
        from mlx_lm.sample_utils import make_sampler

        model, tok = self.load()
        mx.random.seed(seed)
        sampler = make_sampler(temp=sampling.temperature, top_p=sampling.top_p if sampling.top_p < 1.0 else 0.0)
        budget = sampling.thinking_budget
        first_limit = min(budget, sampling.max_tokens) if budget else sampling.max_tokens
        out: list[Generation] = []

        def run(chunk: list[list[int]], limit: int):
            res = batch_generate(model, tok, prompts=chunk, max_tokens=limit, sampler=sampler, return_token_ids=True,
                                 completion_batch_size=self.batch_size, prefill_batch_size=self.batch_size)
            return list(zip(res.texts, res.token_ids or [[]] * len(chunk)))

        for start in range(0, len(prompts), self.batch_size):
            chunk = [self.prompt_ids(p) for p in prompts[start : start + self.batch_size]]
            first = run(chunk, first_limit)
            gens = [Generation(text, len(ids), "length" if len(ids) >= first_limit else "stop") for text, ids in first]
            if budget and sampling.max_tokens > budget:
                # cut at the budget: a reply still thinking is forced (close the block, ask for the answer),
                # any other one continues as it was; either way the answer gets the rest of max_tokens
                todo = [i for i, g in enumerate(gens) if g.finish_reason == "length"]
                force = tok.encode(FORCE_ANSWER, add_special_tokens=False)
                forced = {i: thinking_open(gens[i].text, tok.decode(chunk[i][-8:])) for i in todo}
                if todo:
                    more = run([chunk[i] + list(first[i][1]) + (force if forced[i] else []) for i in todo], sampling.max_tokens - budget)
                    for i, (text, ids) in zip(todo, more):
                        head = gens[i].text + (FORCE_ANSWER if forced[i] else "")
                        gens[i] = Generation(head + text, gens[i].tokens + len(force) * forced[i] + len(ids),
                                             "length" if len(ids) >= sampling.max_tokens - budget else "stop", forced=forced[i])
            out.extend(gens)
            if on_batch:
                on_batch(start, gens)
        return out

    def generate_one_at_a_time(self, prompts, sampling, seed) -> list[Generation]:
        """The unbatched baseline (mlx_lm.generate per prompt), for benchmarks."""
        import mlx.core as mx
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        model, tok = self.load()
        mx.random.seed(seed)
        sampler = make_sampler(temp=sampling.temperature, top_p=sampling.top_p if sampling.top_p < 1.0 else 0.0)
        out = []
        for p in prompts:
            text, n, finish = "", 0, "stop"
            for r in stream_generate(model, tok, prompt=self.prompt_ids(p), max_tokens=sampling.max_tokens, sampler=sampler):
                text += r.text
                n = r.generation_tokens
                finish = r.finish_reason or finish
            out.append(Generation(text, n, finish))
        return out


class EndpointBackend:
    """Any OpenAI-compatible chat endpoint (or several serving one model: the role's `extra_urls`, or
    `--urls`), through `distill.agents.endpoint`: the key check, retries and failover every role uses.
    A fatal failure (a refused key, an unknown model, no endpoint reachable) stops the run; any
    other failed request is recorded as an error and asked again when the evaluation resumes."""

    def __init__(self, role: ModelRole, concurrency: int = 8, role_name: str = "student"):
        from distill.agents.endpoint import EndpointPool

        from distill.agents.clients import guess_family

        self.role, self.concurrency, self.role_name = role, concurrency, role_name
        self.pool = EndpointPool(role.urls)  # health outlives each chunk's event loop
        # may the chat template open <think> itself (a reply with no tag yet is then still thinking)?
        self.reasoning = role.reasoning == "inline" or (role.reasoning == "auto" and str(guess_family(role)) == "r1")

    def describe(self) -> dict[str, Any]:
        if len(self.role.urls) > 1:
            return {"backend": "endpoints", "role": self.role_name, "base_urls": self.role.urls, "model": self.role.model}
        return {"backend": "endpoint", "role": self.role_name, "base_url": self.role.base_url, "model": self.role.model}

    def check(self) -> None:
        from distill.agents.endpoint import preflight

        asyncio.run(preflight(self.role, self.role_name))

    async def complete(self, endpoint, messages: Messages, sampling: Sampling, seed: int) -> Generation:
        """One chat completion. With a thinking budget, the first call stops at the budget: a reply still
        thinking there is forced (s1: close the block, ask for the answer); any other reply is continued
        as it was, so the answer gets the rest of max_tokens either way."""
        budget = sampling.thinking_budget
        first_limit = min(budget, sampling.max_tokens) if budget else sampling.max_tokens

        async def call(msgs: Messages, limit: int, extra: dict | None = None):
            return await endpoint.complete(msgs, max_tokens=limit, temperature=sampling.temperature, top_p=sampling.top_p,
                                           seed=seed, extra_body=extra)

        r = await call(messages, first_limit)
        text, tokens, finish, forced = self.inline(r), r.tokens, r.finish_reason, False
        if budget and sampling.max_tokens > budget and finish == "length":
            # continue the assistant turn (vLLM, mlx_lm.server: continue_final_message); a reasoning model's
            # chat template may open <think> itself, so a reply from one with no tag yet is still thinking
            forced = thinking_open(text, THINK_OPEN if self.reasoning else "")
            partial = text + FORCE_ANSWER if forced else text
            more = await call([*messages, {"role": "assistant", "content": partial}], max(1, sampling.max_tokens - tokens),
                              {"continue_final_message": True, "add_generation_prompt": False})
            text, tokens, finish = partial + self.inline(more, continued=True), tokens + more.tokens, more.finish_reason
        return Generation(text, tokens, finish, forced=forced, endpoint=r.url)

    def inline(self, r, continued: bool = False) -> str:
        """A reply in the one text convention the evaluation reads (thinking in <think> before the
        answer), whether the server sent the thinking in a field or inline."""
        from distill.reasoning import as_text, field_thinking

        thinking = field_thinking(r.message) if self.role.reasoning in ("auto", "field") else None
        if thinking is None:
            return r.text
        if continued:  # a continuation's own thinking field continues the open block
            return thinking + ("\n</think>\n\n" + r.text if r.text else "")
        return as_text(thinking, r.text, still_thinking=r.finish_reason == "length" and not r.text)

    def generate(self, prompts, sampling, seed, on_batch=None, seeds: Sequence[int] | None = None):
        """Each prompt with its own request `seed` (`seeds[i]`, else seed + i): a server that honours it repeats the reply."""
        from distill.agents.endpoint import ChatEndpoint
        from distill.errors import EndpointError

        async def main():
            endpoint = ChatEndpoint(self.role, self.role_name, self.pool)
            sem = asyncio.Semaphore(self.concurrency * len(self.role.urls))

            async def one(i: int, messages: Messages) -> Generation:
                async with sem:
                    try:
                        gen = await self.complete(endpoint, messages, sampling, seeds[i] if seeds is not None else seed + i)
                    except EndpointError as exc:
                        if exc.fatal:
                            raise
                        return Generation(f"[generation failed: {exc.detail}]", 0, "error")
                if on_batch:
                    on_batch(i, [gen])
                return gen

            try:
                return await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)))
            finally:
                await endpoint.close()

        return asyncio.run(main())
