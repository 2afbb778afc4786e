"""Starlette routes whose endpoint is called without Starlette's second exception wrapper (`route`, `Handler`), for
any Starlette app (the demo APIs, and sekisho's own routes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class Handler:
    """An endpoint (request → response) as its route's ASGI app.

    Starlette's `request_response` does the same inside `wrap_app_handling_exceptions`, a second copy of what
    ExceptionMiddleware (next above the router in every Starlette app) already does with the same handlers: a
    closure, two coroutine frames and a wrapper around each `send`, per request. Without it an exception from the
    endpoint reaches ExceptionMiddleware, which answers it as the inner copy would have; the scope, and so the
    request its handler sees, is the same dict."""

    __slots__ = ("endpoint",)

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def route(path: str, endpoint: Endpoint, methods: Collection[str]) -> Route:
    """`Route(path, endpoint, methods=…)`, named after the endpoint as Starlette names it, called through `Handler`."""
    return Route(path, Handler(endpoint), methods=list(methods), name=endpoint.__name__)
