"""Agents: what a worker does for one step. Each returns the step's output text.

- chat: recall the session's newest `history_window` messages, ask the model (streaming its tokens
  as events), remember the turn.
- subtask: one part of a planner task, with its tool (calculator or memory lookup) if any.
- synthesis: the planner's last step: combine the subtasks' outputs into the answer.
Writes to memory are keyed by (task, step), so a redelivered step stores nothing twice.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from stackyard.common.logs import task_id_var
from stackyard.worker import tools

TokenSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    task_id: str
    step_no: int
    kind: str
    input: str
    session_id: str
    tool: str = ""
    context: str = ""

    @property
    def step_id(self) -> str:
        return f"{self.task_id}:{self.step_no}"


class UnknownAgent(Exception):
    pass


@dataclass
class Clients:
    memory: httpx.AsyncClient
    model: httpx.AsyncClient
    model_name: str
    # Messages of session history a chat turn sends the model (WorkerSettings.history_window).
    history_window: int


async def tag_task(request: httpx.Request) -> None:
    """httpx hook: carry the task id to memory and model, so their logs name it too."""
    task_id = task_id_var.get()
    if task_id:
        request.headers["X-Task-ID"] = task_id


async def complete(clients: Clients, messages: list[dict[str, str]], on_token: TokenSink | None) -> str:
    """One chat completion (streamed when someone listens for tokens), tried twice: a pooled
    connection to a model replica that restarted fails once, and the call is idempotent."""
    try:
        return await _complete(clients, messages, on_token)
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        return await _complete(clients, messages, on_token)


async def _complete(clients: Clients, messages: list[dict[str, str]], on_token: TokenSink | None) -> str:
    body = {"model": clients.model_name, "messages": messages}
    if on_token is None:
        response = await clients.model.post("/v1/chat/completions", json=body)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])
    pieces: list[str] = []
    async with clients.model.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if delta:
                pieces.append(delta)
                await on_token(delta)
    return "".join(pieces)


async def history(clients: Clients, step: Step) -> list[dict[str, str]]:
    """The newest `history_window` messages of the session, oldest first: one bounded read by
    index, so turn 1,000 of a session costs what turn 10 does.

    A redelivered step sees the history as its first delivery did: memory answers the window
    before this step's own earlier write, so neither that write nor later turns take its place."""
    recalled = await clients.memory.get(f"/v1/sessions/{step.session_id}/messages", params={
        "limit": clients.history_window, "before_task_id": step.task_id, "before_step_id": step.step_id})
    recalled.raise_for_status()
    return [{"role": m["role"], "content": m["content"]} for m in recalled.json()["messages"]]


async def remember(clients: Clients, step: Step, user: str, reply: str) -> None:
    stored = await clients.memory.post(f"/v1/sessions/{step.session_id}/messages", json={
        "task_id": step.task_id, "step_id": step.step_id,
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}],
    })
    stored.raise_for_status()


async def chat(step: Step, clients: Clients, on_token: TokenSink | None = None) -> str:
    messages = [*await history(clients, step), {"role": "user", "content": step.input}]
    reply = await complete(clients, messages, on_token)
    await remember(clients, step, step.input, reply)
    return reply


async def use_tool(step: Step, clients: Clients) -> str:
    if step.tool == "calculator":
        try:
            return f"calculator: {tools.calculate(step.input)}"
        except tools.ToolError as error:
            return f"calculator: {error}"
    if step.tool == "memory":
        query = step.input.split(" ", 1)[1] if " " in step.input else step.input
        found = await clients.memory.get(f"/v1/sessions/{step.session_id}/recall", params={"q": query, "limit": 3})
        found.raise_for_status()
        contents = [m["content"] for m in found.json()["messages"]]
        return f"memory: {len(contents)} match(es)" + (f", first: {contents[0][:200]}" if contents else "")
    raise UnknownAgent(f"no tool named {step.tool!r}")


async def subtask(step: Step, clients: Clients, on_token: TokenSink | None = None) -> str:
    messages = []
    if step.tool:
        messages.append({"role": "tool", "content": await use_tool(step, clients)})
    messages.append({"role": "user", "content": step.input})
    return await complete(clients, messages, None)


async def synthesis(step: Step, clients: Clients, on_token: TokenSink | None = None) -> str:
    parts = json.loads(step.context or "[]")
    messages = [{"role": "tool", "content": f"{p['input']} → {p['output']}"} for p in parts]
    messages.append({"role": "user", "content": step.input})
    reply = await complete(clients, messages, on_token)
    await remember(clients, step, step.input, reply)
    return reply


AGENTS = {"chat": chat, "subtask": subtask, "synthesis": synthesis}
