"""Helpers for integration tests: in-process servers on real ports, direct Postgres access, polling."""

import asyncio
import socket
import threading
import time
from typing import Any

import asyncpg
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedApp:
    """An ASGI app under a real uvicorn server in a thread, reachable over TCP like in the stack."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_config=None, access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ServedApp":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("in-process server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def fetch(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        connection = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await connection.fetch(query, *args)]
        finally:
            await connection.close()
    return asyncio.run(go())


def execute(url: str, query: str, *args: Any) -> None:
    async def go() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(query, *args)
        finally:
            await connection.close()
    asyncio.run(go())


def eventually(check: Any, timeout: float = 15.0) -> Any:
    """Poll `check` until it returns a truthy value; fail with its last result."""
    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
