"""How a task becomes steps. Pure functions: the orchestrator stores and publishes the result.

- chat: one step.
- planner: the input is split into parts (by `;` or new lines); each part is a `subtask` step,
  run in parallel by workers, with a tool where the part asks for one (arithmetic → calculator,
  "recall …" → memory lookup); a final `synthesis` step combines their outputs.
"""

import re
from dataclasses import dataclass

MAX_SUBTASKS = 8
ARITHMETIC = re.compile(r"[-+*/%()\d.\s]*\d[-+*/%()\d.\s]*[-+*/%][-+*/%()\d.\s]*\d[-+*/%()\d.\s]*")
RECALL_WORDS = ("recall", "remember", "look up", "lookup")


@dataclass(frozen=True)
class PlannedStep:
    step_no: int
    kind: str            # chat | subtask | synthesis
    input: str
    tool: str | None = None
    waiting: bool = False  # published only once the steps before it completed


def choose_tool(part: str) -> str | None:
    lowered = part.lower().strip()
    if lowered.startswith(RECALL_WORDS):
        return "memory"
    if ARITHMETIC.search(part):
        return "calculator"
    return None


def split_parts(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    return parts[:MAX_SUBTASKS] or [text.strip()]


def plan(agent: str, text: str) -> list[PlannedStep]:
    if agent == "chat":
        return [PlannedStep(0, "chat", text)]
    if agent == "planner":
        parts = split_parts(text)
        steps = [PlannedStep(n, "subtask", part, choose_tool(part)) for n, part in enumerate(parts)]
        return [*steps, PlannedStep(len(parts), "synthesis", text, waiting=True)]
    raise ValueError(f"no plan for agent {agent!r}")
