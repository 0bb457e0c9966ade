"""`converse` holds the same conversation as AutoGen's RoundRobinGroupChat: checked side by side on
the Solver/Verifier team with replayed model clients, and on agents that record what they are handed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import diskcache
import pytest
from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.messages import BaseChatMessage, TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken
from autogen_ext.models.replay import ReplayChatCompletionClient
from distill.agents.clients import build_client
from distill.agents.conversation import converse
from distill.agents.team import Solver, Templates, VerifierFormatter, termination
from distill.errors import EndpointError
from distill.grading.pool import Grader

from .test_team import GOOD_FORMAT, PROBLEM, SOLVER, VERIFIER, result


@pytest.fixture(scope="module")
def grader():
    with Grader(workers=1) as g:
        yield g


def team_agents(tmp_path, grader, solver_replies, formatter_replies, max_rounds):
    cache = diskcache.Cache(str(tmp_path / f"cache-{len(list(tmp_path.iterdir()))}"))
    templates = Templates.load()
    solver_client = build_client(SOLVER, cache, inner=ReplayChatCompletionClient(list(solver_replies)), role_name="solver")
    fmt = build_client(VERIFIER, cache, inner=ReplayChatCompletionClient(list(formatter_replies)), role_name="verifier")
    solver = Solver(solver_client, templates.solver_system.render().strip())
    verifier = VerifierFormatter(PROBLEM, grader, fmt, templates, max_rounds=max_rounds)
    return solver, verifier, templates.solver_user.render(problem=PROBLEM.text)


def shape(task_result):
    return [(type(m).__name__, m.source, m.content) for m in task_result.messages], task_result.stop_reason


async def both(make, stop):
    """The same conversation through RoundRobinGroupChat and through `converse`, with fresh agents each."""
    agents, task = make()
    reference = await RoundRobinGroupChat(agents, termination_condition=stop).run(task=task)
    reference_context = await agents[0].model_context.get_messages() if isinstance(agents[0], AssistantAgent) else None
    agents, task = make()
    ours = await converse(agents, task, stop)
    ours_context = await agents[0].model_context.get_messages() if isinstance(agents[0], AssistantAgent) else None
    return reference, ours, reference_context, ours_context


CASES = {
    "accepted first round": ([result("So \\boxed{17}.", thought="8+9=17")], [result(GOOD_FORMAT)], 3),
    "wrong then right": ([result("\\boxed{18}", thought="18?"), result("\\boxed{17}", thought="17")], [result(GOOD_FORMAT)], 3),
    "rejected after max rounds": ([result("\\boxed{18}"), result("\\boxed{16}")], [], 2),
    "truncated then right": ([result("Let me think", finish="length"), result("\\boxed{17}")], [result(GOOD_FORMAT)], 3),
    "format fails twice": ([result("\\boxed{17}")], [result("17"), result("It is 17")], 3),
}


@pytest.mark.parametrize("case", CASES)
def test_team_conversation_matches_round_robin(tmp_path, grader, case):
    solver_replies, formatter_replies, rounds = CASES[case]

    def make():
        solver, verifier, task = team_agents(tmp_path, grader, solver_replies, formatter_replies, rounds)
        return [solver, verifier], task

    reference, ours, reference_context, ours_context = asyncio.run(both(make, termination(rounds)))
    assert shape(ours) == shape(reference)
    assert ours_context == reference_context  # the Solver was handed the same messages, in the same order
    assert any(m.source == "verifier" for m in ours.messages)


class Recorder(BaseChatAgent):
    """Says `<name> <turn>` and keeps every batch of messages it was handed."""

    def __init__(self, name: str, say: str | None = None):
        super().__init__(name, "records what it is handed")
        self.handed: list[list[str]] = []
        self.say = say

    @property
    def produced_message_types(self):
        return (TextMessage,)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        self.handed.append([f"{m.source}:{m.content}" for m in messages])
        text = self.say if self.say and len(self.handed) == 2 else f"{self.name} {len(self.handed)}"
        return Response(chat_message=TextMessage(source=self.name, content=text))

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        self.handed = []


@pytest.mark.parametrize(
    "names,stop",
    [
        (("a", "b"), MaxMessageTermination(5)),
        (("a", "b", "c"), MaxMessageTermination(8)),
        (("a", "b"), TextMentionTermination("DONE", sources=["b"]) | MaxMessageTermination(20)),
        (("a",), MaxMessageTermination(3)),
    ],
)
def test_three_agents_and_caps_match_round_robin(names, stop):
    made: list[list[Recorder]] = []

    def make():
        agents = [Recorder(n, say="DONE" if n == "b" else None) for n in names]
        made.append(agents)
        return agents, "start"

    reference, ours, _, _ = asyncio.run(both(make, stop))
    assert shape(ours) == shape(reference)
    assert [a.handed for a in made[1]] == [a.handed for a in made[0]]


def test_a_failing_model_call_propagates_as_the_endpoint_error(tmp_path, grader):
    class Down(ReplayChatCompletionClient):
        async def create(self, *args, **kwargs):
            raise ConnectionError("connection refused")

    cache = diskcache.Cache(str(tmp_path / "cache"))
    templates = Templates.load()
    solver_client = build_client(SOLVER.model_copy(update={"max_retries": 0}), cache, inner=Down([]), role_name="solver")
    fmt = build_client(VERIFIER, cache, inner=ReplayChatCompletionClient([]), role_name="verifier")
    agents = [Solver(solver_client, None), VerifierFormatter(PROBLEM, grader, fmt, templates)]
    with pytest.raises(EndpointError) as err:
        asyncio.run(converse(agents, "What is 8 + 9?", termination(3)))
    assert "solver" in err.value.line()
