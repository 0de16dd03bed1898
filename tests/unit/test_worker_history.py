"""The worker's chat history read: one bounded request for the configured window, placed before
the step's own earlier write, so a redelivered step reads what its first delivery read."""

import asyncio

import httpx
import pytest
from stackyard.common.settings import WorkerSettings
from stackyard.worker import agents

STEP = agents.Step(task_id="t-9", step_no=0, kind="chat", input="hi", session_id="s-1")


def _history(window: int, answer: list[dict[str, object]]) -> tuple[list[dict[str, str]], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"session_id": "s-1", "messages": answer})

    async def go() -> list[dict[str, str]]:
        async with httpx.AsyncClient(base_url="http://memory", transport=httpx.MockTransport(handler)) as memory:
            return await agents.history(agents.Clients(memory, memory, "m", window), STEP)

    return asyncio.run(go()), seen


def test_history_asks_for_the_window_before_this_step() -> None:
    answer = [{"id": 1, "role": "user", "content": "a", "task_id": "t-1", "step_id": "t-1:0"},
              {"id": 2, "role": "assistant", "content": "b", "task_id": "t-1", "step_id": "t-1:0"}]
    messages, seen = _history(7, answer)
    assert messages == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert len(seen) == 1 and seen[0].url.path == "/v1/sessions/s-1/messages"
    assert dict(seen[0].url.params) == {"limit": "7", "before_task_id": "t-9", "before_step_id": "t-9:0"}


def test_the_window_is_a_bounded_setting_with_a_default() -> None:
    base = {"redis_url": "redis://r", "memory_url": "http://m", "model_url": "http://mo"}
    assert WorkerSettings(**base).history_window == 20
    assert WorkerSettings(**base, history_window=3).history_window == 3
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="history_window"):
            WorkerSettings(**base, history_window=bad)
