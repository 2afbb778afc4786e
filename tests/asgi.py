"""One HTTP request to an ASGI app in process, as uvicorn would hand it over: no server, no socket, no client
library. For tests of routing and for bench/instructions.py, whose instruction counts must be the app's alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

Headers = Sequence[tuple[bytes, bytes]]


async def call(
    app: Any, method: str, path: str, headers: Headers = (), body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    """The status, the headers (lower-case names) and the body of the app's answer."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
        "raw_path": path.encode(), "root_path": "", "scheme": "http", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    messages: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # the response is sent before a disconnect is ever awaited
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    body_sent = b"".join(message.get("body", b"") for message in messages[1:])
    return start["status"], dict(start.get("headers", [])), body_sent
