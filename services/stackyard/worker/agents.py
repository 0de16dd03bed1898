"""Agents: what a worker does for one step. Each returns the step's output text."""

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Step:
    task_id: str
    step_no: int
    kind: str
    input: str
    session_id: str

    @property
    def step_id(self) -> str:
        return f"{self.task_id}:{self.step_no}"


class UnknownAgent(Exception):
    pass


async def chat(step: Step, memory: httpx.AsyncClient, model: httpx.AsyncClient, model_name: str) -> str:
    """Recall the session, ask the model, remember both sides of the turn."""
    recalled = await memory.get(f"/v1/sessions/{step.session_id}/messages", params={"limit": 200})
    recalled.raise_for_status()
    # A redelivered step must not see its own earlier write as history.
    history = [
        {"role": m["role"], "content": m["content"]}
        for m in recalled.json()["messages"]
        if m.get("step_id") != step.step_id
    ]
    completion = await model.post("/v1/chat/completions", json={
        "model": model_name,
        "messages": [*history, {"role": "user", "content": step.input}],
    })
    completion.raise_for_status()
    reply: str = completion.json()["choices"][0]["message"]["content"]
    stored = await memory.post(f"/v1/sessions/{step.session_id}/messages", json={
        "task_id": step.task_id,
        "step_id": step.step_id,
        "messages": [{"role": "user", "content": step.input}, {"role": "assistant", "content": reply}],
    })
    stored.raise_for_status()
    return reply
