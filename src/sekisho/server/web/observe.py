"""What the server says about itself: Prometheus metrics (GET /metrics) and, when asked, one JSON log line per
request. Paths are logged without their query string (a callback's query may carry a code)."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("sekisho_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "sekisho_request_duration_seconds",
    "Time to answer a request",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
TOKENS_ISSUED = Counter("sekisho_tokens_issued", "Token responses sent, by grant type", ["grant_type"])
ERRORS = Counter("sekisho_errors", "OAuth errors answered, by error code", ["error"])


@functools.cache
def series(metric: Any, *labels: str) -> Any:
    """The labelled series of `metric`, kept: `.labels()` takes a lock and builds its key on every call. Bounded like
    the series themselves: the HTTP parser knows a fixed set of methods, routes are the route table's templates (or
    "unmatched"), statuses and grant types are the app's own, error codes are those of sekisho.errors' classes."""
    return metric.labels(*labels)


def count_issued(grant_type: str) -> None:
    """One more token response for `grant_type`."""
    series(TOKENS_ISSUED, grant_type).inc()


access = logging.getLogger("sekisho.access")


class Observe:
    """ASGI middleware: counts and times every HTTP request by its route's template, and logs it if asked."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - began
            route = getattr(scope.get("route"), "path", "unmatched")
            series(REQUESTS, scope["method"], route, str(status)).inc()
            series(LATENCY, route).observe(elapsed)
            if self.log_requests:
                client: Any = scope.get("client")
                fields = {
                    "event": "request",
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                }
                access.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": fields})


async def metrics(request: Request) -> Response:
    """Prometheus' text format. Each worker process answers for itself."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
