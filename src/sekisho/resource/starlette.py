"""Starlette glue: read the bearer token (never from the query string), authenticate, require scopes, answer RFC 6750,
and describe the resource server (RFC 9728).

Install `AuthenticationMiddleware(app, backend=BearerBackend(verifier, resource=described), on_error=on_auth_error)`,
add `protected_resource_routes(described)` to the app's routes, and decorate endpoints with
`@require_scope("write:notes")`. With a `ProtectedResource`, every 401 and 403 challenge names its metadata
(`resource_metadata`), and a 401 of a guarded endpoint the scopes it needs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sekisho.errors import (
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    OAuthError,
    TemporarilyUnavailable,
    UseDPoPNonce,
)
from sekisho.protocol import bearer, dpop
from sekisho.resource.asgi import route
from sekisho.resource.dpop import DPoPGate
from sekisho.resource.metadata import ProtectedResource
from sekisho.resource.verifiers import TokenInfo, TokenVerifier

Endpoint = Callable[[Request], Awaitable[Response]]


def bearer_token(request: HTTPConnection, body_token: str | None = None) -> str:
    """The token from `Authorization: Bearer` or, for Misskey's dialect, the body's `i`; else `InvalidToken`."""
    return token_of(request.headers.get("authorization"), body_token)


def token_of(header: str | None, body_token: str | None = None) -> str:
    """`bearer_token` given the Authorization header's value (`Bearer` or `DPoP`: see `DPoPGate` for the latter)."""
    token = bearer.parse_authorization(header, ("bearer", "dpop"))
    if header and token is None:
        raise InvalidToken("the Authorization header must be 'Bearer <token>' or 'DPoP <token>'")
    if token is not None and body_token is not None and token != body_token:
        raise InvalidToken("the Authorization header and the body name different tokens")
    token = token or body_token
    if not token:
        raise InvalidToken("an access token is required", status=401)
    return token


def challenge_headers(
    error: OAuthError,
    resource: ProtectedResource | None = None,
    scopes: Sequence[str] = (),
    *,
    dpop_algs: Sequence[str] = (),
) -> dict[str, str]:
    """The WWW-Authenticate header of RFC 6750 §3 for a token error; Retry-After when it could not be checked.

    With `resource`, the challenge names its metadata (RFC 9728 §5.1), and a 401 names `scopes`, those the endpoint
    needs, so that a client (an MCP client, say) knows what to ask for; a 403 names the scope missing. With
    `dpop_algs` (DPoP accepted, RFC 9449 §7.1), a DPoP challenge follows the Bearer one; a proof's error is the
    DPoP challenge's, with `DPoP-Nonce` when a nonce is wanted."""
    if isinstance(error, TemporarilyUnavailable):
        return {"Retry-After": str(error.retry_after)}
    metadata = None if resource is None else resource.metadata_url
    if isinstance(error, InvalidDPoPProof | UseDPoPNonce):
        value = bearer.challenge(error.error, error.description, scheme="DPoP", algs=dpop_algs or dpop.ALGORITHMS)
        nonce = error.nonce if isinstance(error, UseDPoPNonce) else None
        return {"WWW-Authenticate": value} | ({} if nonce is None else {"DPoP-Nonce": nonce})
    also = ", " + bearer.challenge(scheme="DPoP", algs=dpop_algs) if dpop_algs else ""
    if isinstance(error, InsufficientScope):
        return {"WWW-Authenticate": bearer.challenge(error.error, error.description, error.scope, metadata) + also}
    if isinstance(error, InvalidToken):
        needed = None if resource is None else " ".join(scopes)
        return {"WWW-Authenticate": bearer.challenge(error.error, error.description, needed, metadata) + also}
    return {}


def error_response(
    error: OAuthError,
    resource: ProtectedResource | None = None,
    scopes: Sequence[str] = (),
    *,
    dpop_algs: Sequence[str] = (),
) -> JSONResponse:
    headers = challenge_headers(error, resource, scopes, dpop_algs=dpop_algs)
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def protected_resource_routes(resource: ProtectedResource) -> list[Route]:
    """GET routes serving `resource`'s metadata (RFC 9728 §3) at each of its well-known paths, to anyone (CORS `*`:
    browser clients read it too)."""

    async def metadata(request: Request) -> Response:
        return JSONResponse(resource.metadata(), headers=METADATA_HEADERS)

    return [route(path, metadata, ["GET"]) for path in resource.well_known_paths]


METADATA_HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"}


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


_RESOURCE: Final = "sekisho.protected_resource"  # the ASGI scope's key for the resource a request is made to
_DPOP_ALGS: Final = "sekisho.dpop_algs"  # and for the DPoP algorithms accepted, named by the challenges


class BearerBackend(AuthenticationBackend):
    """No Authorization header: anonymous. A valid bearer token: `TokenUser`, its scopes as credentials.

    `resource`: this resource server's metadata (RFC 9728), which every challenge then names (the verifier is what
    checks a token's audience: give it `audience=resource.resource`)."""

    def __init__(
        self, verifier: TokenVerifier, *, resource: ProtectedResource | None = None, dpop: DPoPGate | None = None
    ) -> None:
        self.verifier = verifier
        self.resource = resource
        self.dpop = dpop or DPoPGate()  # RFC 9449: DPoP tokens with proofs; a bound token never as Bearer

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if self.resource is not None:
            conn.scope[_RESOURCE] = self.resource  # for the challenges of `on_auth_error` and `require_scope`
        conn.scope[_DPOP_ALGS] = self.dpop.algorithms
        header = conn.headers.get("authorization")
        if header is None:
            return None  # a query-string access_token is never read (RFC 6750 §2.3 is not offered)
        try:
            token = token_of(header)
            info = await self.dpop.confirm(await self.verifier.verify(token), conn, token)
        except OAuthError as error:
            raise TokenError(error) from None
        return AuthCredentials(list(info.scope)), TokenUser(info)


def resource_of(conn: HTTPConnection) -> ProtectedResource | None:
    """The resource server's metadata `BearerBackend` was given, if any."""
    resource = conn.scope.get(_RESOURCE)
    return resource if isinstance(resource, ProtectedResource) else None


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """The `on_error` of `AuthenticationMiddleware`: 401 `invalid_token` with its challenge (503 if unverifiable)."""
    error = exc.error if isinstance(exc, TokenError) else InvalidToken(str(exc))
    return error_response(error, resource_of(conn), dpop_algs=conn.scope.get(_DPOP_ALGS, ()))


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
                return error_response(error, resource_of(request), scopes, dpop_algs=request.scope.get(_DPOP_ALGS, ()))
            return await endpoint(request)

        return guarded

    return guard
