"""FastAPI glue (the `fastapi` extra): a security dependency that verifies the bearer token and its scopes, and the
resource server's metadata (RFC 9728).

With `bearer = Bearer(verifier, resource=described)`, an endpoint takes
`info: Annotated[TokenInfo, Security(bearer, scopes=[...])]`; `app.include_router(protected_resource_router(described))`
serves the metadata every challenge then names.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from sekisho.errors import OAuthError
from sekisho.resource.dpop import DPoPGate
from sekisho.resource.metadata import ProtectedResource
from sekisho.resource.starlette import METADATA_HEADERS, bearer_token, challenge_headers
from sekisho.resource.verifiers import TokenInfo, TokenVerifier


class Bearer(SecurityBase):
    """401 `invalid_token`, 403 `insufficient_scope` naming the scope, 503 if the token cannot be checked now.

    Only the Authorization header is read, never a query string. Being a `SecurityBase`, it shows in the OpenAPI
    document as an HTTP bearer scheme.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        scheme_name: str = "bearer",
        resource: ProtectedResource | None = None,
        dpop: DPoPGate | None = None,
    ) -> None:
        self.verifier = verifier
        self.dpop = dpop or DPoPGate()  # RFC 9449: DPoP tokens with proofs; a bound token never as Bearer
        self.model = HTTPBearerModel()
        self.scheme_name = scheme_name
        self.resource = resource

    async def __call__(self, security_scopes: SecurityScopes, request: Request) -> TokenInfo:
        scopes = security_scopes.scopes
        try:
            token = bearer_token(request)
            info = await self.dpop.confirm(await self.verifier.verify(token), request, token)
            info.require(*scopes)
        except OAuthError as error:
            headers = challenge_headers(error, self.resource, scopes, dpop_algs=self.dpop.algorithms)
            raise HTTPException(error.status, detail=error.body(), headers=headers) from None
        return info


def protected_resource_router(resource: ProtectedResource) -> APIRouter:
    """A router serving `resource`'s metadata (RFC 9728 §3) at each of its well-known paths, to anyone (CORS `*`),
    left out of the OpenAPI document."""
    router = APIRouter()

    async def metadata() -> JSONResponse:
        return JSONResponse(resource.metadata(), headers=METADATA_HEADERS)

    for path in resource.well_known_paths:
        router.add_api_route(path, metadata, methods=["GET"], include_in_schema=False)
    return router
