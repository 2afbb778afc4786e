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


async def current_user(request: Request, store: Store, now: int) -> User | None:
    settings: Settings = request.app.state.settings
    value = request.cookies.get(cookie_name(settings, "sekisho_session"))
    if not value or not value.startswith(tokens.SESSION) or len(value) > 128:
        return None
    return await store.find_session_user(tokens.digest(value), now)


async def start_session(response: Response, settings: Settings, store: Store, user: User, now: int) -> None:
    value = tokens.new_secret(tokens.SESSION)
    await store.create_session(tokens.digest(value), user.id, now, now + settings.session_ttl)
    _set_cookie(response, settings, "sekisho_session", value, settings.session_ttl)


async def end_session(request: Request, response: Response, store: Store) -> None:
    settings: Settings = request.app.state.settings
    name = cookie_name(settings, "sekisho_session")
    value = request.cookies.get(name)
    if value and len(value) <= 128:
        await store.delete_session(tokens.digest(value))
    response.delete_cookie(name, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax")


class Csrf:
    """Signed double-submit tokens: the form carries HMAC(key, cookie), the cookie a random value."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def token(self, request: Request, response_cookies: dict[str, str]) -> str:
        """The form token; a new cookie is put in `response_cookies` when the browser has none."""
        settings: Settings = request.app.state.settings
        value = request.cookies.get(cookie_name(settings, "sekisho_csrf"))
        if not value or len(value) > 128:
            value = secrets.token_urlsafe(32)
            response_cookies["sekisho_csrf"] = value
        return self._sign(value)

    def check(self, request: Request, submitted: str | None) -> None:
        settings: Settings = request.app.state.settings
        value = request.cookies.get(cookie_name(settings, "sekisho_csrf"))
        expected = self._sign(value).encode() if value else b""
        if not expected or not submitted or not hmac.compare_digest(expected, submitted.encode("utf-8", "replace")):
            raise InvalidRequest("the form has expired or did not come from this site; go back and try again")


def set_cookies(response: Response, settings: Settings, cookies: dict[str, str]) -> None:
    for name, value in cookies.items():
        _set_cookie(response, settings, name, value, None)
