"""Login sessions (a cookie holding a secret whose digest is stored) and CSRF tokens for every form."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from sekisho.errors import InvalidRequest
from sekisho.protocol import tokens
from sekisho.server.entities import User
from sekisho.server.settings import Settings
from sekisho.server.store import Store


def cookie_name(settings: Settings, name: str) -> str:
    # The __Host- prefix pins the cookie to this origin, path / and https.
    return f"__Host-{name}" if settings.secure_cookies else name


def _set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        cookie_name(settings, name),
        value,
        max_age=max_age,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def session_digest(request: Request) -> str | None:
    """The digest of the browser's session cookie, when it holds something that could be one."""
    settings: Settings = request.app.state.settings
    value = request.cookies.get(cookie_name(settings, "sekisho_session"))
    if not value or not value.startswith(tokens.SESSION) or len(value) > 128:
        return None
    return tokens.digest(value)


async def current_user(request: Request, store: Store, now: int) -> User | None:
    digest = session_digest(request)
    return None if digest is None else await store.users.find_session_user(digest, now)


async def start_session(response: Response, settings: Settings, store: Store, user: User, now: int) -> None:
    """Sign in: a new session cookie, and a new CSRF cookie so that no form token from before still works."""
    value = tokens.new_secret(tokens.SESSION)
    await store.users.create_session(tokens.digest(value), user.id, now, now + settings.session_ttl)
    _set_cookie(response, settings, "sekisho_session", value, settings.session_ttl)
    rotate_csrf(response, settings)


async def end_session(request: Request, response: Response, store: Store) -> None:
    """Sign out: the session ends, its cookie goes, and a new CSRF cookie replaces the old one."""
    settings: Settings = request.app.state.settings
    name = cookie_name(settings, "sekisho_session")
    value = request.cookies.get(name)
    if value and len(value) <= 128:
        await store.users.delete_session(tokens.digest(value))
    response.delete_cookie(name, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax")
    rotate_csrf(response, settings)


def rotate_csrf(response: Response, settings: Settings) -> None:
    _set_cookie(response, settings, "sekisho_csrf", secrets.token_urlsafe(32), None)


class Csrf:
    """Signed double-submit tokens bound to the session: the form carries HMAC(key, cookie, session digest).

    The cookie is a random value, replaced at login and logout; a planted cookie with its token from another
    browser fails too, since the token also names that browser's session.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, request: Request, value: str) -> str:
        message = f"{value}|{session_digest(request) or ''}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def token(self, request: Request, response_cookies: dict[str, str]) -> str:
        """The form token; a new cookie is put in `response_cookies` when the browser has none."""
        settings: Settings = request.app.state.settings
        value = request.cookies.get(cookie_name(settings, "sekisho_csrf"))
        if not value or len(value) > 128:
            value = secrets.token_urlsafe(32)
            response_cookies["sekisho_csrf"] = value
        return self._sign(request, value)

    def check(self, request: Request, submitted: str | None) -> None:
        settings: Settings = request.app.state.settings
        value = request.cookies.get(cookie_name(settings, "sekisho_csrf"))
        expected = self._sign(request, value).encode() if value else b""
        if not expected or not submitted or not hmac.compare_digest(expected, submitted.encode("utf-8", "replace")):
            raise InvalidRequest("the form has expired or did not come from this site; go back and try again")


def check_decision_method(request: Request, decision: str | None) -> None:
    """A consent decision comes only by the consent form's POST: a link or an image cannot decide (RFC 6749 §10.12)."""
    if decision is not None and request.method != "POST":
        raise InvalidRequest("a decision is accepted only from the consent form (POST); go back and press a button")


def set_cookies(response: Response, settings: Settings, cookies: dict[str, str]) -> None:
    for name, value in cookies.items():
        _set_cookie(response, settings, name, value, None)
