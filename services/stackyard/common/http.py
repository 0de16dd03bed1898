"""The FastAPI app every component is built on: health, metrics, JSON errors, size limits.

Every error leaves as `{"error": "..."}` with a 4xx for bad input, so clients never see an
HTML page or a bare 500 for something they sent.
"""

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackyard.common.logs import request_id_var, task_id_var
from stackyard.common.metrics import HTTP_DURATION, HTTP_REQUESTS

logger = logging.getLogger("stackyard.http")

ReadinessCheck = Callable[[], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


class Guard:
    """Outermost ASGI layer: request id, body-size limit, metrics, last-resort 500 as JSON."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        task_token = task_id_var.set(headers.get(b"x-task-id", b"").decode("latin-1")[:64] or None)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        too_large = {"hit": False}

        async def send_wrapper(message: Message) -> None:
            if too_large["hit"]:
                # The app saw the read fail and answered something generic (FastAPI turns any
                # body-read error into 400): answer 413 instead and drop the app's response.
                if message["type"] == "http.response.start" and not status["sent"]:
                    await self._error(send_wrapper_raw, 413, f"request body over {self.max_body_bytes} bytes")
                return
            await send_wrapper_raw(message)

        async def send_wrapper_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large["hit"] = True
                    raise BodyTooLarge()
            return message

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._error(send_wrapper_raw, 413, f"request body over {self.max_body_bytes} bytes")
            else:
                await self.app(scope, receive_limited, send_wrapper)
        except BodyTooLarge:
            if not status["sent"]:
                await self._error(send_wrapper_raw, 413, f"request body over {self.max_body_bytes} bytes")
        except Exception:
            logger.exception("unhandled error")
            if not status["sent"]:
                await self._error(send_wrapper_raw, 500, "internal error", request_id=request_id)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, label, str(status["code"])).inc()
            HTTP_DURATION.labels(method, label).observe(time.perf_counter() - started)
            request_id_var.reset(token)
            task_id_var.reset(task_token)

    @staticmethod
    async def _error(send: Send, code: int, message: str, **extra: Any) -> None:
        response = JSONResponse({"error": message, **extra}, status_code=code)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        location = ".".join(str(item) for item in error.get("loc", ()) if item != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(
    service: str,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    max_body_bytes: int = 1_048_576,
    openapi: bool = False,
) -> FastAPI:
    app = FastAPI(
        title=f"stackyard {service}",
        lifespan=lifespan,
        openapi_url="/openapi.json" if openapi else None,
        docs_url="/docs" if openapi else None,
        redoc_url=None,
    )
    app.state.readiness_checks = {}
    app.state.draining = False

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(error.get("type") == "json_invalid" for error in errors):
            return JSONResponse({"error": f"malformed JSON: {_describe(errors)}"}, status_code=400)
        safe = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
        return JSONResponse({"error": _describe(errors), "details": safe}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # Liveness: the process answers. Never checks dependencies (that would restart-loop us).
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        if app.state.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        results: dict[str, str] = {}
        ready = True
        for name, check in app.state.readiness_checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as error:
                ready = False
                results[name] = f"{type(error).__name__}: {error}"[:200]
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Guard, max_body_bytes=max_body_bytes)
    return app
