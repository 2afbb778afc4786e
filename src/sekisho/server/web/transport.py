"""What every request is held to before the app sees it: a 16 KiB header section, 30 s for its body to arrive, and
HSTS under an https issuer (CONTRACT.md §4). uvicorn's httptools protocol has no setting for either limit, so this is
ASGI middleware: it applies them once the request's head has been parsed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER_BYTES = 16 * 1024  # the lengths of every header field's name and value, summed
BODY_SECONDS = 30.0  # from the request's start until the last byte of its body
# RFC 6797 §6.1: a year; no includeSubDomains, since the issuer's parent domain may serve other things
HSTS = (b"strict-transport-security", b"max-age=31536000")
CLOSE = {"Connection": "close", "Cache-Control": "no-store"}


class BodyTimeout(HTTPException):
    """The body did not arrive in time: 408, and the connection closes (RFC 9110 §15.5.9)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} seconds", headers=CLOSE)


class Transport:
    """ASGI middleware: a header section over `HEADER_BYTES` is a 431, a body still arriving `BODY_SECONDS` after
    the request's start a 408 (both close the connection), and with `hsts` every response carries HSTS.

    The limits are read from the module when the app is built, so a test may shorten them by setting them first."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts
        self.header_bytes = HEADER_BYTES
        self.body_seconds = BODY_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.hsts:
            send = with_hsts(send)
        size, has_body = measure(scope["headers"])
        if size > self.header_bytes:
            # RFC 6585 §5: 431 Request Header Fields Too Large
            description = f"the request's header fields exceed {self.header_bytes // 1024} KiB"
            refusal = JSONResponse({"error": "invalid_request", "error_description": description}, 431, CLOSE)
            await refusal(scope, receive, send)
            return
        if has_body:
            receive, send = body_deadline(receive, send, self.body_seconds)
        await self.app(scope, receive, send)


def measure(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int, bool]:
    """The header section's size (names and values), and whether it announces a body (RFC 9112 §6.3)."""
    size, has_body = 0, False
    for name, value in headers:
        size += len(name) + len(value)
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            has_body = True
    return size, has_body


def body_deadline(receive: Receive, send: Send, seconds: float) -> tuple[Receive, Send]:
    """`receive`, raising BodyTimeout when the body is not all in `seconds` from now (once it is, `receive` as is);
    and `send`, closing the connection after a response sent before the body was all in, which uvicorn would
    otherwise go on waiting for."""
    deadline = asyncio.get_running_loop().time() + seconds
    complete = False

    async def receiving() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            complete = True  # the 408 closes the connection itself
            raise BodyTimeout(seconds) from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and not complete:
            message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        await send(message)

    return receiving, sending


def with_hsts(send: Send) -> Send:
    """`send`, adding Strict-Transport-Security to the response's head."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), HSTS]}
        await send(message)

    return sending
