"""Starlette glue: read the bearer token (never from the query string), authenticate, require scopes, answer RFC 6750.

Install `AuthenticationMiddleware(app, backend=BearerBackend(verifier), on_error=on_auth_error)` and decorate
endpoints with `@require_scope("write:notes")`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from sekisho.errors import InsufficientScope, InvalidToken, OAuthError, TemporarilyUnavailable
from sekisho.protocol import bearer
from sekisho.resource.verifiers import TokenInfo, TokenVerifier

Endpoint = Callable[[Request], Awaitable[Response]]


def bearer_token(request: HTTPConnection, body_token: str | None = None) -> str:
    """The token from `Authorization: Bearer` or, for Misskey's dialect, the body's `i`; else `InvalidToken`."""
    return token_of(request.headers.get("authorization"), body_token)


def token_of(header: str | None, body_token: str | None = None) -> str:
    """`bearer_token` given the Authorization header's value."""
    token = bearer.parse_authorization(header)
    if header and token is None:
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    if token is not None and body_token is not None and token != body_token:
        raise InvalidToken("the Authorization header and the body name different tokens")
    token = token or body_token
    if not token:
        raise InvalidToken("an access token is required", status=401)
    return token


def challenge_headers(error: OAuthError) -> dict[str, str]:
    """The WWW-Authenticate header of RFC 6750 §3 for a token error; Retry-After when it could not be checked."""
    if isinstance(error, TemporarilyUnavailable):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, InsufficientScope):
        return {"WWW-Authenticate": bearer.challenge(error.error, error.description, error.scope)}
    if isinstance(error, InvalidToken):
        return {"WWW-Authenticate": bearer.challenge(error.error, error.description)}
    return {}


def error_response(error: OAuthError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=challenge_headers(error))


class TokenUser(BaseUser):
    """Who a verified token acts for: its user, or its client when there is none; `.info` holds the rest."""

    def __init__(self, info: TokenInfo) -> None:
        self.info = info

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.info.user_id or self.info.client_id

    @property
    def identity(self) -> str:
        return self.display_name


class TokenError(AuthenticationError):
    """A refused (or unverifiable) token; `on_auth_error` turns `.error` into its RFC 6750 reply."""

    def __init__(self, error: OAuthError) -> None:
        super().__init__(error.description)
        self.error = error


class BearerBackend(AuthenticationBackend):
    """No Authorization header: anonymous. A valid bearer token: `TokenUser`, its scopes as credentials."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None  # a query-string access_token is never read (RFC 6750 §2.3 is not offered)
        try:
            info = await self.verifier.verify(token_of(header))
        except OAuthError as error:
            raise TokenError(error) from None
        return AuthCredentials(list(info.scope)), TokenUser(info)


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """The `on_error` of `AuthenticationMiddleware`: 401 `invalid_token` with its challenge (503 if unverifiable)."""
    return error_response(exc.error if isinstance(exc, TokenError) else InvalidToken(str(exc)))


def token_info(request: HTTPConnection) -> TokenInfo:
    """The verified token `BearerBackend` found; `InvalidToken` for an anonymous request."""
    user = request.user  # asserts that AuthenticationMiddleware is installed: a missing one must not pass quietly
    if not isinstance(user, TokenUser):
        raise InvalidToken("an access token is required")
    return user.info


def require_scope(*scopes: str) -> Callable[[Endpoint], Endpoint]:
    """Guard an endpoint: 401 without a valid token, 403 `insufficient_scope` naming the first missing scope."""

    def guard(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            try:
                token_info(request).require(*scopes)
            except OAuthError as error:
                return error_response(error)
            return await endpoint(request)

        return guarded

    return guard
