"""A turn-taking AgentChat conversation run in the caller's task.

The same conversation `RoundRobinGroupChat` holds (the task goes to every agent, each agent is handed
what the others said since its last turn, the termination condition sees each turn's events and
message, the run returns `TaskResult(messages, stop_reason)`), with the same agents, messages and
termination conditions, but without building an agent runtime per problem. On a corpus run that
runtime (per-message routing, telemetry spans, team set-up) cost more CPU than the HTTP calls
themselves; `tests/test_conversation.py` checks both give the same messages and stop reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from autogen_agentchat.base import ChatAgent, Response, TaskResult, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage
from autogen_core import CancellationToken


async def converse(agents: Sequence[ChatAgent], task: str, termination: TerminationCondition, *,
                   cancellation_token: CancellationToken | None = None) -> TaskResult:
    """Let `agents` speak in turn on `task` until `termination` fires; an agent's exception propagates."""
    if not agents:
        raise ValueError("a conversation needs at least one agent")
    token = cancellation_token or CancellationToken()
    start = TextMessage(source="user", content=task)
    thread: list[BaseAgentEvent | BaseChatMessage] = [start]
    inbox: dict[str, list[BaseChatMessage]] = {a.name: [start] for a in agents}
    stop = await termination([start])
    turn = 0
    while stop is None:
        agent = agents[turn % len(agents)]
        turn += 1
        handed, inbox[agent.name] = inbox[agent.name], []
        response: Response | None = None
        async for item in agent.on_messages_stream(handed, token):
            if isinstance(item, Response):
                response = item
            else:
                thread.append(item)
        if response is None:
            raise RuntimeError(f"agent {agent.name!r} ended its turn without a response")
        thread.append(response.chat_message)
        for other in agents:
            if other.name != agent.name:
                inbox[other.name].append(response.chat_message)
        stop = await termination([*(response.inner_messages or []), response.chat_message])
    await termination.reset()
    return TaskResult(messages=thread, stop_reason=stop.content)


__all__ = ["converse"]
