"""Starlette, lighter on the hot paths: routes whose endpoint is called without Starlette's second exception
wrapper (`route`, `Handler`), and a JSON response with its headers encoded once (`Json`). For any Starlette app
(the demo APIs, and sekisho's own routes)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class Handler:
    """An endpoint (request → response) as its route's ASGI app.

    Starlette's `request_response` does the same inside `wrap_app_handling_exceptions`, a second copy of what
    ExceptionMiddleware (next above the router in every Starlette app) already does with the same handlers: a
    closure, two coroutine frames and a wrapper around each `send`, per request. Without it an exception from the
    endpoint reaches ExceptionMiddleware, which answers it as the inner copy would have; the scope, and so the
    request its handler sees, is the same dict. 12 µs of the 40 a demo API call spends in Starlette (in process,
    bench/RESULTS.md)."""

    __slots__ = ("endpoint",)

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def route(path: str, endpoint: Endpoint, methods: Collection[str]) -> Route:
    """`Route(path, endpoint, methods=…)`, named after the endpoint as Starlette names it, called through `Handler`."""
    return Route(path, Handler(endpoint), methods=list(methods), name=endpoint.__name__)


RawHeaders = Sequence[tuple[bytes, bytes]]

# JSONResponse.render's options, in an encoder made once (json.dumps with options makes one per call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_CONTENT_TYPE = (b"content-type", b"application/json")


def raw_headers(headers: Mapping[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    """Headers as a response sends them (lower-case latin-1 names), for `Json`: encode a fixed set once."""
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())


class Json(JSONResponse):
    """Starlette's JSONResponse, the same bytes on the wire (its headers may come in another order), built in about
    8 µs instead of 13 for a token response: one encoder, and extra headers encoded beforehand (`raw_headers`), not
    per response. Always has a body, so not for 204 or 304."""

    def __init__(self, content: Any, status_code: int = 200, headers: RawHeaders = ()) -> None:
        self.status_code = status_code
        self.background = None
        self.body = self.render(content)
        self.raw_headers = [(b"content-length", str(len(self.body)).encode("latin-1")), _CONTENT_TYPE, *headers]

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode("utf-8")
