"""What every request is held to before the app sees it: its client's address behind trusted proxies (proxies.py),
a 16 KiB header section, 30 s for its body to arrive, and HSTS under an https issuer (CONTRACT.md §4). uvicorn's
httptools protocol has no setting for either limit, so this is ASGI middleware: it applies them once the request's
head has been parsed, in one pass over its header fields."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import chain

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sekisho.server.web.proxies import Forwarding, Network

HEADER_BYTES = 16 * 1024  # the lengths of every header field's name and value, summed
BODY_SECONDS = 30.0  # from the request's start until the last byte of its body
# RFC 6797 §6.1: a year; no includeSubDomains, since the issuer's parent domain may serve other things
HSTS = (b"strict-transport-security", b"max-age=31536000")
CLOSE = {"Connection": "close", "Cache-Control": "no-store"}
FORWARDING_HEADERS = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"forwarded"})


class BodyTimeout(HTTPException):
    """The body did not arrive in time: 408, and the connection closes (RFC 9110 §15.5.9)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} seconds", headers=CLOSE)


class Edge:
    """ASGI middleware: the client's address and scheme from trusted proxies (`trusted`), then a header section over
    `HEADER_BYTES` is a 431, a body still arriving `BODY_SECONDS` after the request's start a 408 (both close the
    connection), and with `hsts` every response carries HSTS.

    The limits are read from the module when the app is built, so a test may shorten them by setting them first."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network] = (), hsts: bool = False) -> None:
        self.app = app
        self.forwarding = Forwarding(trusted)
        self.hsts = hsts
        self.header_bytes = HEADER_BYTES
        self.body_seconds = BODY_SECONDS
        self.reading: set[BodyDeadline] = set()  # requests whose body may still be arriving
        self.sweeper: asyncio.TimerHandle | None = None
        self.sweeper_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size, has_body, forwarded = read_head(scope["headers"])
        if forwarded and scope.get("client"):
            self.forwarding.apply(scope, forwarded)
        if self.hsts:
            send = with_hsts(send)
        if size > self.header_bytes:
            # RFC 6585 §5: 431 Request Header Fields Too Large
            description = f"the request's header fields exceed {self.header_bytes // 1024} KiB"
            refusal = JSONResponse({"error": "invalid_request", "error_description": description}, 431, CLOSE)
            await refusal(scope, receive, send)
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = BodyDeadline(receive, send, self.body_seconds, loop.time() + self.body_seconds)
        self.reading.add(deadline)
        if self.sweeper is None or self.sweeper_loop is not loop:
            self._sweep_later(loop)
        try:
            await self.app(scope, deadline.receive, deadline.send)
        finally:
            self.reading.discard(deadline)

    def _sweep_later(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sweeper_loop = loop
        self.sweeper = loop.call_later(min(1.0, self.body_seconds / 4), self._sweep)

    def _sweep(self) -> None:
        """Every second while bodies are arriving: expire the requests past their deadline."""
        loop, self.sweeper = self.sweeper_loop, None
        if loop is None:
            return
        now = loop.time()
        for deadline in [deadline for deadline in self.reading if deadline.due <= now]:
            self.reading.discard(deadline)
            deadline.expire()
        if self.reading:
            self._sweep_later(loop)


def read_head(headers: Sequence[tuple[bytes, bytes]]) -> tuple[int, bool, dict[str, str]]:
    """The header section's size (names and values), whether it announces a body (RFC 9112 §6.3), and its
    forwarding headers (repeated lines joined into one comma-separated list, RFC 9110 §5.3)."""
    size = sum(map(len, chain.from_iterable(headers)))
    has_body = False
    forwarded: dict[str, str] = {}
    for name, value in headers:
        if name == b"content-length":
            has_body = has_body or value != b"0"
        elif name == b"transfer-encoding":
            has_body = True
        elif name in FORWARDING_HEADERS:
            key, text = name.decode("latin-1"), value.decode("latin-1")
            forwarded[key] = f"{forwarded[key]},{text}" if key in forwarded else text
    return size, has_body, forwarded


class BodyDeadline:
    """`receive` that raises BodyTimeout once the body is not all in `seconds` after the request's start, and `send`
    that closes the connection after a response sent before the body was all in (uvicorn would otherwise go on
    waiting for the rest).

    `Edge` sweeps its requests every second and calls `expire` on those past `due` (the loop's time): one
    that waits for its body then has that wait cancelled; any other, its next wait for the body fails at once.
    """

    __slots__ = ("_receive", "_send", "seconds", "due", "complete", "expired", "waiting")

    def __init__(self, receive: Receive, send: Send, seconds: float, due: float) -> None:
        self._receive = receive
        self._send = send
        self.seconds = seconds
        self.due = due
        self.complete = False
        self.expired = False
        self.waiting: asyncio.Task[object] | None = None

    def expire(self) -> None:
        if not self.complete:
            self.expired = True
            if self.waiting is not None:
                self.waiting.cancel()

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        if self.expired:
            self.complete = True  # the 408 closes the connection itself
            raise BodyTimeout(self.seconds)
        self.waiting = asyncio.current_task()
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if self.expired and self.waiting is not None and self.waiting.uncancel() == 0:
                self.complete = True
                raise BodyTimeout(self.seconds) from None
            raise
        finally:
            self.waiting = None
        self.complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.complete:
            message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        await self._send(message)


def with_hsts(send: Send) -> Send:
    """`send`, adding Strict-Transport-Security to the response's head."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), HSTS]}
        await send(message)

    return sending
