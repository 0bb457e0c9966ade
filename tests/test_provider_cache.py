"""Prompt tokens the provider served from its context cache are priced at `price_cached_input`:
read from the raw usage of each call (DeepSeek's and OpenAI's spellings) through AutoGen's event log."""

from __future__ import annotations

import json

import pytest
from distill.agents.provider_cache import cache_hit_tokens
from distill.corpus.transcripts import TranscriptStore
from distill.demo.loopback import LoopbackServer, Reply

from distill.config import ModelRole

STEPS = "Step 1: Add 8 and 9.\nStep 2: 8 + 9 = 17.\nFinal answer: \\boxed{17}"


@pytest.mark.parametrize(
    "usage, hits",
    [
        ({"prompt_tokens": 100, "prompt_cache_hit_tokens": 30, "prompt_cache_miss_tokens": 70}, 30),  # DeepSeek
        ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 40}}, 40),  # OpenAI, vLLM
        ({"prompt_tokens": 100, "prompt_tokens_details": None}, 0),
        ({"prompt_tokens": 100}, 0),
        (None, 0),
    ],
)
def test_cache_hit_tokens_in_either_spelling(usage, hits):
    assert cache_hit_tokens(usage) == hits


def test_cost_prices_hits_at_the_cached_rate_and_falls_back_to_the_input_price():
    role = ModelRole(model="m", price_input=1.0, price_cached_input=0.1, price_output=2.0)
    assert role.cost(1_000_000, 0, 400_000) == pytest.approx(0.6 + 0.04)
    assert role.cost(100, 50, 500) == pytest.approx((100 * 0.1 + 50 * 2.0) / 1e6)  # hits never exceed the prompt
    no_cached_price = ModelRole(model="m", price_input=1.0, price_output=2.0)
    assert no_cached_price.cost(1_000_000, 0, 400_000) == pytest.approx(1.0)


@pytest.mark.parametrize("stream", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["json", "stream"])  # streamed: hits in the last chunk
def test_corpus_run_records_hits_and_prices_them(stream, run_cli, workspace, monkeypatch, tmp_path):
    def reply(body):
        if body["model"] == "chat-fmt":
            return Reply(content=STEPS, prompt_tokens=200, completion_tokens=20, usage_extra={"prompt_tokens_details": {"cached_tokens": 40}})
        return Reply(content="8 + 9 = 17, so \\boxed{17}.", reasoning="add", prompt_tokens=100, completion_tokens=50,
                     usage_extra={"prompt_cache_hit_tokens": 30, "prompt_cache_miss_tokens": 70})

    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps({"id": "t-2001-01", "text": "What is 8 + 9?", "answer": "17", "year": 2001}) + "\n")
    run_cli("problems", "import", str(data), "--source", "t")
    with LoopbackServer(reply) as srv:
        for role, model in (("SOLVER", "r1-solver"), ("VERIFIER", "chat-fmt")):
            for k, v in {"BASE_URL": srv.base_url, "MODEL": model, "API_KEY_ENV": "", "PRICE_INPUT": "1.0", "PRICE_CACHED_INPUT": "0.1",
                         "PRICE_OUTPUT": "2.0"}.items():
                monkeypatch.setenv(f"DISTILL_{role}__{k}", v)
        monkeypatch.setenv("DISTILL_SOLVER__STREAM", "true" if stream else "false")
        s = json.loads(run_cli("corpus", "run", "--source", "t", "--json", "--quiet").stdout)
    (t,) = TranscriptStore(workspace / "transcripts").all()
    assert t.status == "accepted" and t.calls["prompt_cache_hit_tokens"] == 30 + 40
    expected = ((100 - 30) * 1.0 + 30 * 0.1 + 50 * 2.0 + (200 - 40) * 1.0 + 40 * 0.1 + 20 * 2.0) / 1e6
    assert t.cost_usd == pytest.approx(expected, abs=1e-9) and s["cost_usd"] == pytest.approx(expected, abs=1e-9)
    log = (workspace / "logs" / "distill.log").read_text() if (workspace / "logs" / "distill.log").exists() else ""
    assert "LLMCall" not in log and "8 + 9 = 17" not in log  # AutoGen's call events (whole prompts) stay out of the log
