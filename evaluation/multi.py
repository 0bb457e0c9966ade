"""Evaluation across several OpenAI-compatible endpoints (vLLM or mlx_lm.server on several machines):
the work is a shared queue that each endpoint drains at its own concurrency; a request that fails
goes back on the queue for the other endpoints, and an endpoint that fails twice in a row is dropped.
Each response records the endpoint that answered it."""

from __future__ import annotations

import asyncio
from typing import Any

from distill.config import ModelRole

from .backends import EndpointBackend, Generation, Messages, Sampling

DROP_AFTER = 2  # consecutive failures that take an endpoint out of the run


class MultiEndpointBackend:
    def __init__(self, role: ModelRole, urls: list[str], concurrency: int = 8, role_name: str = "student"):
        self.endpoints = [EndpointBackend(role.model_copy(update={"base_url": u}), concurrency, role_name) for u in urls]
        self.concurrency, self.role_name, self.role = concurrency, role_name, role

    def describe(self) -> dict[str, Any]:
        return {"backend": "endpoints", "role": self.role_name, "base_urls": [e.role.base_url for e in self.endpoints], "model": self.role.model}

    def check(self) -> None:
        for e in self.endpoints:
            e.check()

    def generate(self, prompts: list[Messages], sampling: Sampling, seed: int, on_batch=None) -> list[Generation]:
        async def main() -> list[Generation]:
            queue: asyncio.Queue[tuple[int, set[str]]] = asyncio.Queue()
            for i in range(len(prompts)):
                queue.put_nowait((i, set()))
            results: list[Generation | None] = [None] * len(prompts)
            alive = {e.role.base_url for e in self.endpoints}
            clients = {e.role.base_url: e._client() for e in self.endpoints}

            unresolved = [len(prompts)]  # a worker stays while any request may still come back to the queue

            async def worker(e: EndpointBackend) -> None:
                url, failures = e.role.base_url, 0
                while url in alive and unresolved[0] > 0:
                    try:
                        i, tried = await asyncio.wait_for(queue.get(), timeout=0.05)
                    except asyncio.TimeoutError:
                        continue
                    if url in tried and not tried >= alive:  # an endpoint that has not failed this one should try it
                        queue.put_nowait((i, tried))
                        await asyncio.sleep(0.01)
                        continue
                    try:
                        results[i] = await e.complete(clients[url], prompts[i], sampling, seed + i)
                        failures = 0
                        unresolved[0] -= 1
                        if on_batch:
                            on_batch(i, [results[i]])
                    except Exception as exc:
                        failures += 1
                        tried = tried | {url}
                        if failures >= DROP_AFTER:
                            alive.discard(url)
                        if tried >= alive or not alive:
                            results[i] = Generation(f"[generation failed: {type(exc).__name__}]", 0, "error", endpoint=url)
                            unresolved[0] -= 1
                        else:
                            queue.put_nowait((i, tried))

            try:
                await asyncio.gather(*(worker(e) for e in self.endpoints for _ in range(self.concurrency)))
            finally:
                for c in clients.values():
                    await c.close()
            return [r or Generation("[generation failed: no endpoint left]", 0, "error") for r in results]

        return asyncio.run(main())
