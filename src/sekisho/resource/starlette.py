"""Starlette glue: read the bearer token (never from the query string) and turn errors into RFC 6750 replies."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from sekisho.errors import InsufficientScope, InvalidToken, OAuthError
from sekisho.protocol import bearer


def bearer_token(request: Request, body_token: str | None = None) -> str:
    """The token from `Authorization: Bearer` or, for Misskey's dialect, the body's `i`; else `InvalidToken`."""
    header = request.headers.get("authorization")
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
    """The WWW-Authenticate header of RFC 6750 §3 for a token error."""
    if isinstance(error, InsufficientScope):
        return {"WWW-Authenticate": bearer.challenge(error.error, error.description, error.scope)}
    if isinstance(error, InvalidToken):
        return {"WWW-Authenticate": bearer.challenge(error.error, error.description)}
    return {}


def error_response(error: OAuthError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=challenge_headers(error))
