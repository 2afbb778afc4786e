"""Thin handlers for the pages a person sees: home, login, logout, connected apps, the demo's callback, and the
favicon."""

from __future__ import annotations

import secrets
import shlex
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from sekisho.errors import InvalidRequest
from sekisho.protocol import client_ids, pkce
from sekisho.protocol.params import parse_form
from sekisho.protocol.redirects import host_of
from sekisho.protocol.scopes import describe
from sekisho.server import accounts, throttle
from sekisho.server import connected_apps as apps
from sekisho.server.events import security_event
from sekisho.server.setup import DEMO_CLIENT_ID
from sekisho.server.web.requests import AppState, client_address, read_body, state
from sekisho.server.web.responses import redirect, render
from sekisho.server.web.sessions import current_user, end_session, start_session

API_AUTHORIZATION = "Authorization: Bearer ACCESS_TOKEN"
FAVICON = Path(__file__).parent / "static" / "favicon.svg"


def safe_next(target: str | None) -> str:
    """Only same-site paths: never `//host`, `/\\host` or an absolute URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


async def home(request: Request) -> Response:
    app = state(request)
    user = await current_user(request, app.store, app.now())
    demo_link = None
    verifier = secrets.token_urlsafe(48)
    if app.settings.demo:
        demo_link = "/oauth/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": DEMO_CLIENT_ID,
                "redirect_uri": f"{app.settings.issuer}/demo/callback",
                "scope": "read:account write:notes",
                "state": secrets.token_urlsafe(12),
                "code_challenge": pkce.s256(verifier),
                "code_challenge_method": "S256",
            }
        )
    viewer = user.username if user else None
    response = await render(request, "home.html", viewer=viewer, demo_link=demo_link, demo=app.settings.demo)
    if demo_link:
        # Only the demo keeps its verifier in a cookie, so the callback page can show the next step.
        secure = app.settings.secure_cookies
        response.set_cookie(
            "sekisho_demo_verifier", verifier, path="/demo", secure=secure, httponly=True, samesite="lax"
        )
    return response


async def login_form(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    return await render(request, "login.html", next=target, app_name=await _sending_app(state(request), target))


async def _sending_app(app: AppState, target: str) -> str | None:
    """The app the login is for, to name on the login page: a registered client's name, a URL client's host, or a
    MiAuth app's name as it gave it (the consent page shows the same); None when `target` is no such request."""
    parts = urlsplit(target)
    query = parse_qs(parts.query)
    if parts.path.startswith("/miauth/"):
        return (query.get("name") or [""])[0] or None
    if parts.path != "/oauth/authorize":
        return None
    client_id = (query.get("client_id") or [""])[0]
    if not client_id or len(client_id) > client_ids.MAX_LENGTH:
        return None
    if client_ids.is_url(client_id):
        return host_of(client_id)
    client = await app.store.clients.find(client_id)
    return client.name if client else None


async def login(request: Request) -> Response:
    app = state(request)
    # `next` holds a whole authorization request, whose state alone may be MAX_VALUE_LENGTH characters.
    form = parse_form(await read_body(request), long_values=("next",))
    app.csrf.check(request, form.get("csrf_token"))
    username, password = form.get("username", ""), form.get("password", "")
    target = safe_next(form.get("next"))
    address = client_address(request)
    now = app.now()
    admitted = await throttle.reserve(app.store, username, address, now)
    if admitted.retry_after > 0:
        wait = admitted.retry_after
        security_event("login_throttled", username=username[:64], address=address, retry_after=wait)
        response = await render(
            request,
            "login.html",
            status=429,
            next=target,
            app_name=await _sending_app(app, target),
            username=username,
            message=f"Too many failed attempts. Try again in {wait} seconds.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if admitted.delay > 0:  # the address is over its ceiling: slowed, never refused
        security_event("login_delayed", username=username[:64], address=address, delay=admitted.delay)
        await app.sleep(admitted.delay)
    user = await accounts.authenticate(app.store, username, password) if username and password else None
    if user is None:
        security_event("login_failed", username=username[:64], address=address)
        return await render(
            request,
            "login.html",
            status=401,
            next=target,
            app_name=await _sending_app(app, target),
            username=username,
            message="That username and password do not match.",
        )
    await throttle.forgive(app.store, username, address)
    signed_in = redirect(target)
    await start_session(signed_in, app.settings, app.store, user, now)
    return signed_in


async def logout(request: Request) -> Response:
    app = state(request)
    form = parse_form(await read_body(request))
    app.csrf.check(request, form.get("csrf_token"))
    response = redirect("/")
    await end_session(request, response, app.store)
    return response


async def connected_apps(request: Request) -> Response:
    """GET /settings/apps: the apps this user connected, each with a button that revokes it."""
    app = state(request)
    user = await current_user(request, app.store, app.now())
    if user is None:
        return redirect("/login?" + urlencode({"next": "/settings/apps"}))
    found = await apps.list_apps(app.store, user.id)
    return await render(
        request,
        "apps.html",
        viewer=user.username,
        apps=found,
        when=_when,
        describe=lambda scope: describe(scope, app.settings.scopes),
    )


async def revoke_app(request: Request) -> Response:
    """POST /settings/apps/revoke: every token of every grant the user gave that client ends now."""
    app = state(request)
    form = parse_form(await read_body(request))
    app.csrf.check(request, form.get("csrf_token"))
    now = app.now()
    user = await current_user(request, app.store, now)
    if user is None:
        return redirect("/login?" + urlencode({"next": "/settings/apps"}))
    await apps.revoke_app(app.store, user.id, form.get("client_id", ""), now)
    return redirect("/settings/apps")


def _when(seconds: int | None) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC") if seconds else "never"


async def demo_callback(request: Request) -> Response:
    """Where the demo client lands: shows what a real client would receive and what it does next."""
    app = state(request)
    if not app.settings.demo:
        raise InvalidRequest("the demo is off; start the server with --demo", status=404)
    code = request.query_params.get("code")
    verifier = request.cookies.get("sekisho_demo_verifier", "YOUR_CODE_VERIFIER")
    return await render(
        request,
        "callback.html",
        params=sorted(request.query_params.multi_items()),
        exchange=exchange_command(app.settings.issuer, code, verifier) if code else None,
        api_call=shlex.join(["curl", "-s", "-X", "POST", f"{app.settings.issuer}/api/i", "-H", API_AUTHORIZATION]),
    )


def exchange_command(issuer: str, code: str, verifier: str) -> str:
    """The curl command that exchanges `code`, for a person to paste: every value quoted for a POSIX shell (a `;`
    or `|` in the callback's query stays text), one group of arguments a line."""
    lines = [
        ["curl", "-s", f"{issuer}/oauth/token"],
        ["-d", "grant_type=authorization_code", "-d", f"client_id={DEMO_CLIENT_ID}"],
        ["-d", f"redirect_uri={issuer}/demo/callback"],
        ["-d", f"code={code}"],
        ["-d", f"code_verifier={verifier}"],
    ]
    return " \\\n  ".join(shlex.join(line) for line in lines)


async def favicon(request: Request) -> Response:
    """GET /favicon.ico: the brand mark (SVG, which browsers take at this address too)."""
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
