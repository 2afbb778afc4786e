"""What the server says about itself: Prometheus metrics (GET /metrics) and, when asked, one JSON log line per
request. No log line carries a credential: the values of `code`, `access_token`, `refresh_token`, `state`, `i`
(Misskey's token parameter) and the like in a query string are replaced by `REDACTED`, and so is a MiAuth session
id in a path (whoever knows it can redeem the session's token), in uvicorn's text access log (`RedactAccessLog`) and
in the JSON request log alike."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import re
import time
from typing import Any
from urllib.parse import quote, unquote_plus

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

# Query parameters whose values are credentials or one-time secrets (RFC 6749 §4.1.2 code and state, §4.2.2
# access_token, RFC 6750 §2.3 access_token, Misskey's `i`, RFC 8628's user_code in verification_uri_complete and
# device_code), or passwords and verifiers sent where they should not be.
SECRET_PARAMETERS = frozenset(
    {
        "code",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "state",
        "i",
        "client_secret",
        "code_verifier",
        "password",
        "session",
        "user_code",
        "device_code",
    }
)
REDACTED = "REDACTED"
_MIAUTH_SESSION = re.compile(r"^(/(?:api/)?miauth/)[^/]+")


def redact_query(query: str) -> str:
    """`query` with the value of every secret parameter replaced, also inside `next` (the login page's target);
    names (even percent-encoded ones) are compared decoded and lower-case, everything else stays as sent."""
    if not query:
        return query
    parts = []
    for item in query.split("&"):
        name, equals, value = item.partition("=")
        decoded = unquote_plus(name).strip().lower()
        if equals and decoded in SECRET_PARAMETERS:
            item = f"{name}={REDACTED}"
        elif equals and decoded == "next":  # the login page's way back: a whole authorization request
            item = f"{name}={quote(redact_target(unquote_plus(value)), safe='/')}"
        parts.append(item)
    return "&".join(parts)


def redact_path(path: str) -> str:
    """A path as logged: a MiAuth session id (`/miauth/ID`, `/api/miauth/ID/check`) replaced."""
    return _MIAUTH_SESSION.sub(rf"\g<1>{REDACTED}", path)


def redact_target(target: str) -> str:
    """A request target (path and query) as logged."""
    path, question, query = target.partition("?")
    return redact_path(path) + question + redact_query(query)


class RedactAccessLog(logging.Filter):
    """For uvicorn's access logger: its records' arguments are (client, method, path with query, HTTP version,
    status); the target is redacted (`redact_target`) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


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
                    "path": redact_path(scope["path"]),
                    "query": redact_query(scope.get("query_string", b"").decode("latin-1")) or None,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                }
                access.info("%s %s %s", scope["method"], fields["path"], status, extra={"fields": fields})


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
