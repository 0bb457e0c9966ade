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
                 on_batch: Callable[[int, list[Generation]], None] | None = None) -> list[Generation]: ...


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
            from distill.finetune.run import load_model

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

    def generate(self, prompts, sampling, seed, on_batch=None):
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
                # still thinking at the budget: close the block, ask for the answer, let it finish
                todo = [i for i, (g, (_, ids)) in enumerate(zip(gens, first))
                        if g.finish_reason == "length" and thinking_open(g.text, tok.decode(chunk[i][-8:]))]
                if todo:
                    force = tok.encode(FORCE_ANSWER, add_special_tokens=False)
                    more = run([chunk[i] + list(first[i][1]) + force for i in todo], sampling.max_tokens - budget)
                    for i, (text, ids) in zip(todo, more):
                        gens[i] = Generation(gens[i].text + FORCE_ANSWER + text, gens[i].tokens + len(force) + len(ids),
                                             "length" if len(ids) >= sampling.max_tokens - budget else "stop", forced=True)
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
    """Any OpenAI-compatible chat endpoint, through the `student` role (or another role)."""

    def __init__(self, role: ModelRole, concurrency: int = 8, role_name: str = "student"):
        self.role, self.concurrency, self.role_name = role, concurrency, role_name

    def describe(self) -> dict[str, Any]:
        return {"backend": "endpoint", "role": self.role_name, "base_url": self.role.base_url, "model": self.role.model}

    def _client(self):
        from openai import AsyncOpenAI

        key = self.role.api_key()
        if self.role.api_key_env and not key and "127.0.0.1" not in self.role.base_url and "localhost" not in self.role.base_url:
            raise DistillError(f"the {self.role_name} role needs an API key in ${self.role.api_key_env}")
        return AsyncOpenAI(base_url=self.role.base_url, api_key=key or "not-needed", timeout=self.role.timeout_s, max_retries=self.role.max_retries)

    def check(self) -> None:
        import urllib.error
        import urllib.request

        self._client()
        req = urllib.request.Request(self.role.base_url.rstrip("/") + "/models",
                                     headers={"Authorization": f"Bearer {self.role.api_key() or 'not-needed'}"})
        try:
            urllib.request.urlopen(req, timeout=10).close()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise DistillError(f"endpoint refused the key (HTTP {exc.code})", path=self.role.base_url) from None
            # any other HTTP answer means something is listening; /models is optional on some servers
        except (urllib.error.URLError, OSError) as exc:
            raise DistillError(f"endpoint unreachable ({getattr(exc, 'reason', exc)})", path=self.role.base_url) from None

    async def complete(self, client, messages: Messages, sampling: Sampling, seed: int) -> Generation:
        """One chat completion (with budget forcing when asked); raises when the endpoint fails."""
        budget = sampling.thinking_budget
        first_limit = min(budget, sampling.max_tokens) if budget else sampling.max_tokens

        async def call(msgs: Messages, limit: int, extra: dict | None = None):
            r = await client.chat.completions.create(model=self.role.model, messages=msgs, temperature=sampling.temperature,
                                                     top_p=sampling.top_p, max_tokens=limit, seed=seed, extra_body=extra)
            choice = r.choices[0]
            text = choice.message.content or ""
            return text, (r.usage.completion_tokens if r.usage else len(text.split())), choice.finish_reason or "stop"

        text, tokens, finish = await call(messages, first_limit)
        forced = False
        if budget and sampling.max_tokens > budget and finish == "length" and thinking_open(text):
            # continue the assistant turn after a forced end of thinking (vLLM, mlx_lm.server: continue_final_message)
            partial = text + FORCE_ANSWER
            more, n, finish = await call([*messages, {"role": "assistant", "content": partial}], sampling.max_tokens - budget,
                                         {"continue_final_message": True, "add_generation_prompt": False})
            text, tokens, forced = partial + more, tokens + n, True
        return Generation(text, tokens, finish, forced=forced, endpoint=self.role.base_url)

    def generate(self, prompts, sampling, seed, on_batch=None):
        async def main():
            client = self._client()
            sem = asyncio.Semaphore(self.concurrency)

            async def one(i: int, messages: Messages) -> Generation:
                async with sem:
                    try:
                        gen = await self.complete(client, messages, sampling, seed + i)
                    except Exception as exc:
                        return Generation(f"[generation failed: {type(exc).__name__}]", 0, "error", endpoint=self.role.base_url)
                if on_batch:
                    on_batch(i, [gen])
                return gen

            try:
                return await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)))
            finally:
                await client.close()

        return asyncio.run(main())
