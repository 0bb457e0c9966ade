"""distill's OpenAI client sends exactly what the SDK sends (it takes the SDK's own public path; issue 40 removed
the private lean path): same body, same headers, same reply type."""

from __future__ import annotations

import asyncio

import pytest

from distill.config import ModelRole
from distill.demo.loopback import LoopbackServer, Reply

CASES = {
    "autogen-like": dict(model="r1", messages=[{"role": "system", "content": "Solve."}, {"role": "user", "content": "What is $\\frac{1}{2}+1$?"},
                                               {"role": "assistant", "content": "3/2", "name": "solver"}],
                         temperature=0.6, top_p=0.95, max_tokens=512, seed=3, stop=["</answer>"], user=None),
    "tools and extras": dict(model="r1", messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}], n=1,
                             tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
                             extra_body={"top_k": 20}, extra_headers={"X-Trace": "1"}, timeout=30.0),
}


def _send(client, kw):
    async def go():
        try:
            return await client.chat.completions.create(**kw)
        finally:
            await client.close()
    return asyncio.run(go())


@pytest.mark.parametrize("case", CASES)
def test_distills_client_sends_what_the_sdk_sends(case):
    from openai import AsyncOpenAI

    from distill.agents.endpoint import openai_client

    with LoopbackServer(lambda body: Reply(content="ok")) as srv:
        ours = _send(openai_client(ModelRole(base_url=srv.base_url, model="r1"), srv.base_url, "sk-test"), dict(CASES[case]))
        sdk = _send(AsyncOpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0), dict(CASES[case]))
        assert srv.log.requests[0] == srv.log.requests[1]
        skip = {"x-stainless-retry-count", "x-stainless-read-timeout", "x-stainless-timeout", "x-stainless-async"}
        h = [{k: v for k, v in hs.items() if k not in skip} for hs in srv.log.headers]
        assert h[0] == h[1] and h[0]["authorization"] == "Bearer sk-test"
    assert type(ours) is type(sdk) and ours.choices[0].message.content == sdk.choices[0].message.content == "ok"
