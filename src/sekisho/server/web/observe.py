"""What the server says about itself: Prometheus metrics (GET /metrics) and, when asked, one JSON log line per
request. Paths are logged without their query string (a callback's query may carry a code)."""

from __future__ import annotations

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
_ISSUED: dict[str, Any] = {}


def count_issued(grant_type: str) -> None:
    """One more token response for `grant_type`. Its series is kept, as `Observe.series` keeps its own: `.labels()`
    takes a lock and builds the key per call. Bounded: only the grant types the server supports issue tokens."""
    if (series := _ISSUED.get(grant_type)) is None:
        series = _ISSUED[grant_type] = TOKENS_ISSUED.labels(grant_type)
    series.inc()


access = logging.getLogger("sekisho.access")


class Observe:
    """ASGI middleware: counts and times every HTTP request by its route's template, and logs it if asked."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests
        # The labelled series each (method, route, status) counts into: `.labels()` takes a lock and builds the key
        # on every call. Bounded like the series themselves: the HTTP parser knows a fixed set of methods, routes
        # are the route table's templates (or "unmatched"), statuses are the app's.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def series(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method, route, status)
        if (known := self._series.get(key)) is None:
            known = self._series[key] = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(route))
        return known

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
            counted, timed = self.series(scope["method"], route, status)
            counted.inc()
            timed.observe(elapsed)
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
