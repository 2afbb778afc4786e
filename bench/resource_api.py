"""A resource server that checks sekisho's JWT access tokens locally, with `sekisho.resource` and nothing else.

`POST /api/i` answers the token's user the way a third-party API built on `sekisho.resource.starlette` would:
`JwtVerifier` checks the signature against the keys of sekisho's JWKS (fetched once, then cached), `iss`, `aud`,
`exp` and the scope; no database and no call to the authorization server per request. The `api-jwt-local`
scenario drives it (issue 6: "JWT validated locally by sekisho.resource"); the `api-jwt-pg` scenario measures the
demo API of `sekisho serve` instead, which looks every token up in the store so that a revocation counts at once.

    SEKISHO_ISSUER=http://127.0.0.1:8000 python -m uvicorn bench.resource_api:from_environment --factory
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sekisho.resource import JwtVerifier
from sekisho.resource.starlette import BearerBackend, on_auth_error, require_scope, token_info

SCOPE = "read:account"


def create_app(issuer: str) -> Starlette:
    # sekisho's JWT access tokens name the issuer as their audience; its JWKS is at /oauth/jwks.
    verifier = JwtVerifier(f"{issuer}/oauth/jwks", issuer=issuer, audience=issuer)

    @require_scope(SCOPE)
    async def me(request: Request) -> Response:
        info = token_info(request)
        return JSONResponse({"id": info.user_id, "clientId": info.client_id, "scope": " ".join(info.scope)})

    async def healthz(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await verifier.aclose()

    return Starlette(
        routes=[Route("/api/i", me, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        middleware=[Middleware(AuthenticationMiddleware, backend=BearerBackend(verifier), on_error=on_auth_error)],
        lifespan=lifespan,
    )


def from_environment() -> Starlette:
    """The factory for `uvicorn --factory bench.resource_api:from_environment`."""
    return create_app(os.environ["SEKISHO_ISSUER"])
