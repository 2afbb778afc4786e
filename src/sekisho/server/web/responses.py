"""Responses: JSON errors, HTML pages with security headers, and the one exception handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sekisho.errors import InvalidClient, OAuthError, ServerError, TemporarilyUnavailable
from sekisho.server.web.observe import ERRORS, series

log = logging.getLogger("sekisho")

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CORS = {"Access-Control-Allow-Origin": "*"}

RawHeaders = Sequence[tuple[bytes, bytes]]

# JSONResponse.render's options, in an encoder made once (json.dumps with options makes one per call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_CONTENT_TYPE = (b"content-type", b"application/json")


def raw_headers(headers: Mapping[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    """Headers as a response sends them (lower-case latin-1 names), for `Json`: encode a fixed set once."""
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())


class Json(JSONResponse):
    """Starlette's JSONResponse, the same bytes on the wire (its headers may come in another order), made with one
    encoder and with extra headers encoded beforehand (`raw_headers`), for the token endpoint's responses. Always
    has a body, so not for 204 or 304."""

    def __init__(self, content: Any, status_code: int = 200, headers: RawHeaders = ()) -> None:
        self.status_code = status_code
        self.background = None
        self.body = self.render(content)
        self.raw_headers = [(b"content-length", str(len(self.body)).encode("latin-1")), _CONTENT_TYPE, *headers]

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode("utf-8")


_TOKEN_HEADERS = raw_headers({**NO_STORE, **CORS})


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("issuer", request.app.state.settings.issuer)
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def redirect(url: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status, headers={"Cache-Control": "no-store", **_referrer()})


def _referrer() -> dict[str, str]:
    return {"Referrer-Policy": "no-referrer"}


def token_json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return Json(body, status, _TOKEN_HEADERS)


def oauth_error_json(error: OAuthError) -> JSONResponse:
    headers = {**NO_STORE, **CORS, **_retry_after(error)}
    if isinstance(error, InvalidClient) and error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sekisho"'
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _retry_after(error: OAuthError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if isinstance(error, TemporarilyUnavailable) else {}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept.split("application/json")[0]


def error_page(request: Request, error: OAuthError) -> Response:
    """An error the user sees: never a redirect (RFC 6749 §4.1.2.1)."""
    if wants_json(request):
        headers = {"Cache-Control": "no-store", **_retry_after(error)}
        return JSONResponse(error.body(), status_code=error.status, headers=headers)
    response = page(request, "error.html", status=error.status, error=error)
    response.headers.update(_retry_after(error))
    return response


PAGE_PATHS = ("/oauth/authorize", "/i/oauth2/authorize", "/login", "/logout", "/demo", "/miauth/", "/settings/")


async def handle_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    series(ERRORS, exc.error).inc()
    if exc.status >= 500 or exc.detail:
        log.info("%s %s: %s (%s)", request.method, request.url.path, exc.error, exc.detail or exc.description)
    if request.url.path.startswith(PAGE_PATHS) or request.url.path in ("/",) or request.url.path.startswith("/@"):
        return error_page(request, exc)
    return oauth_error_json(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = {
        "error": "not_found" if exc.status_code == 404 else "invalid_request",
        "error_description": exc.detail,
    }
    return JSONResponse(body, status_code=exc.status_code, headers={**NO_STORE, **(exc.headers or {})})


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything that is not an OAuthError becomes `server_error`, here and only here."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return await handle_oauth_error(request, ServerError("the server could not complete the request"))


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away before its body was read: its doing, so no traceback and no 5xx. 499 is nginx's "client
    closed request", for the metrics and the request log; nobody receives it."""
    log.info("%s %s: the client disconnected before its request body was read", request.method, request.url.path)
    return Response(status_code=499)
