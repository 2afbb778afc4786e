"""Responses: JSON errors, HTML pages with security headers (`page`, and `render` with the site's header filled
in), and the exception handlers: a browser gets an HTML error page, an API caller JSON."""

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

from sekisho.errors import InvalidClient, OAuthError, ServerError, UseDPoPNonce
from sekisho.protocol.redirects import host_of
from sekisho.server.web.observe import ERRORS, series
from sekisho.server.web.requests import state
from sekisho.server.web.sessions import current_user, set_cookies

log = logging.getLogger("sekisho")

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)
TEMPLATES.filters["host"] = host_of  # the host a browser goes to, as the consent pages name it

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
    """`template` rendered; the header shows `viewer` (who is signed in) when the context names one (`render`)."""
    settings = request.app.state.settings
    context.setdefault("issuer", settings.issuer)
    context.setdefault("viewer", None)
    context.setdefault("csrf_token", None)
    context.setdefault("user_pages", getattr(request.app.state, "user_pages", False))  # /@NAME: the demo's
    context.setdefault("here", request.url.path)
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


async def render(
    request: Request, template: str, status: int = 200, *, tolerant: bool = False, **context: Any
) -> HTMLResponse:
    """`page` with the header filled in: who is signed in (unless the context says), and a CSRF token for its
    sign-out form and the page's own forms (a CSRF cookie is set when the browser has none). `tolerant`, for error
    pages: when the store cannot say who is signed in (the error may be the store's), nobody is."""
    app = state(request)
    if "viewer" not in context:
        try:
            user = await current_user(request, app.store, app.now())
        except Exception:
            if not tolerant:
                raise
            user = None
        context["viewer"] = user.username if user else None
    cookies: dict[str, str] = {}
    context.setdefault("csrf_token", app.csrf.token(request, cookies))
    response = page(request, template, status=status, **context)
    set_cookies(response, app.settings, cookies)
    return response


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
    if isinstance(error, UseDPoPNonce) and error.nonce is not None:
        headers |= {"DPoP-Nonce": error.nonce, "Access-Control-Expose-Headers": "DPoP-Nonce"}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _retry_after(error: OAuthError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept.split("application/json")[0]


def wants_html(request: Request) -> bool:
    """A browser: `text/html` accepted, and not after `application/json` (an API caller's `*/*` is not one)."""
    return "text/html" in request.headers.get("accept", "") and not wants_json(request)


async def error_page(request: Request, error: OAuthError, status: int | None = None, **context: Any) -> Response:
    """An error the user sees (with `status`, else the error's own): never a redirect (RFC 6749 §4.1.2.1)."""
    status = status or error.status
    if wants_json(request):
        headers = {"Cache-Control": "no-store", **_retry_after(error)}
        return JSONResponse(error.body(), status_code=status, headers=headers)
    if status >= 500:  # the store may be what failed: no look-up of who is signed in, which could wait on it
        context.setdefault("viewer", None)
    response = await render(
        request, "error.html", status, tolerant=True, code=error.error, description=error.description, **context
    )
    response.headers.update(_retry_after(error))
    return response


PAGE_PATHS = (
    "/oauth/authorize",
    "/i/oauth2/authorize",
    "/login",
    "/logout",
    "/demo",
    "/miauth/",
    "/settings/",
    "/device",
)


async def handle_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    series(ERRORS, exc.error).inc()
    if exc.status >= 500 or exc.detail:
        log.info("%s %s: %s (%s)", request.method, request.url.path, exc.error, exc.detail or exc.description)
    if request.url.path.startswith(PAGE_PATHS) or request.url.path in ("/",) or request.url.path.startswith("/@"):
        return await error_page(request, exc)
    return oauth_error_json(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """404 and 405 (and Starlette's other HTTP errors): an HTML page for a browser, JSON for everyone else."""
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "invalid_request"
    if wants_html(request):
        description = _PAGE_ERRORS.get(exc.status_code, exc.detail)
        response = await render(
            request, "error.html", exc.status_code, tolerant=True, code=code, description=description
        )
        response.headers.update(exc.headers or {})
        return response
    body = {"error": code, "error_description": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers={**NO_STORE, **(exc.headers or {})})


_PAGE_ERRORS = {
    404: "There is no page at this address.",
    405: "This address does not take that kind of request.",
}


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything that is not an OAuthError becomes `server_error`, here and only here."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return await handle_oauth_error(request, ServerError("the server could not complete the request"))


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away before its body was read: its doing, so no traceback and no 5xx. 499 is nginx's "client
    closed request", for the metrics and the request log; nobody receives it."""
    log.info("%s %s: the client disconnected before its request body was read", request.method, request.url.path)
    return Response(status_code=499)
