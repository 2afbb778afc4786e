"""What the server says about itself: Prometheus metrics (GET /metrics) and, when asked, one JSON log line per
request. Paths are logged without their query string (a callback's query may carry a code)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sekisho.errors import InvalidToken
from sekisho.protocol.bearer import parse_authorization
from sekisho.resource.starlette import challenge_headers

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
    """Prometheus' text format, for the operator's scraper only (`scraper_refusal`). Each worker answers for
    itself."""
    refusal = scraper_refusal(request, request.app.state.settings.metrics_token)
    if refusal is not None:
        return refusal
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def scraper_refusal(request: Request, token: str | None) -> Response | None:
    """None for the scraper: with `token`, a request that sends it as `Authorization: Bearer` (from anywhere);
    without one, a loopback peer. Anyone else gets a 401 challenge, or without a token a 404 like any path that does
    not exist: from outside, nothing tells that the server has metrics."""
    if token is not None:
        if sent_token(request, token):
            return None
        error = InvalidToken("GET /metrics needs the metrics token as `Authorization: Bearer`")
        return JSONResponse(error.body(), 401, {**challenge_headers(error), "Cache-Control": "no-store"})
    if is_loopback(request.client.host if request.client else None):
        return None
    raise HTTPException(404)


def sent_token(request: Request, token: str) -> bool:
    """Whether the request's bearer token is `token`, compared in constant time (digests: the length too)."""
    sent = parse_authorization(request.headers.get("authorization")) or ""
    return hmac.compare_digest(hashlib.sha256(sent.encode()).digest(), hashlib.sha256(token.encode()).digest())


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1, or an IPv4-mapped loopback address; a name (or no peer) is not."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
