"""The gateway's request and response bodies (they make its OpenAPI document)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from pydantic import AfterValidator, BaseModel, Field

from stackyard.common.text import require_storable

SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
Status = Literal["queued", "running", "completed", "failed"]
StorableText = Annotated[str, AfterValidator(require_storable)]


class TaskRequest(BaseModel):
    agent: StorableText = Field(description="which agent runs the task: 'chat' or 'planner'", examples=["chat"])
    input: StorableText = Field(description="the user's text; for 'planner', parts separated by ';'",
                       examples=["hello"])
    session_id: str | None = Field(default=None, pattern=SESSION_PATTERN,
                                   description="conversation to continue; a new one is made when absent")


class TaskAccepted(BaseModel):
    id: uuid.UUID
    status: Status
    session_id: str


class StepView(BaseModel):
    step_no: int
    kind: str
    status: Literal["waiting", "queued", "running", "completed", "failed"]
    tool: str | None
    output: str | None
    error: str | None


class TaskView(BaseModel):
    id: uuid.UUID
    agent: str
    session_id: str
    status: Status
    result: str | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    steps: list[StepView]


class SessionMessage(BaseModel):
    role: str
    content: str
    task_id: str | None
    created_at: datetime


class SessionHistory(BaseModel):
    session_id: str
    messages: list[SessionMessage]


class ErrorBody(BaseModel):
    error: str


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 404, 413, 422, 429, 503)}


# Not blank and no NUL, as `validate` and require_storable check: at least one character that is
# neither whitespace nor NUL, and NUL nowhere (a JSON Schema pattern matches anywhere in the text).
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


def state_limits(app: FastAPI, agents: Sequence[str], max_input_chars: int) -> None:
    """Put the limits that come from settings into the OpenAPI document: a client (or schemathesis)
    reading it knows every request the gateway accepts, and no schema-valid request is refused."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            fields = generate()["components"]["schemas"]["TaskRequest"]["properties"]
            fields["agent"].update(enum=list(agents))
            fields["input"].update(minLength=1, maxLength=max_input_chars, pattern=NOT_BLANK_PATTERN)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
