"""FastAPI glue (the `fastapi` extra): a security dependency that verifies the bearer token and its scopes.

With `bearer = Bearer(verifier)`, an endpoint takes `info: Annotated[TokenInfo, Security(bearer, scopes=[...])]`.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from sekisho.errors import OAuthError
from sekisho.resource.starlette import bearer_token, challenge_headers
from sekisho.resource.verifiers import TokenInfo, TokenVerifier


class Bearer(SecurityBase):
    """401 `invalid_token`, 403 `insufficient_scope` naming the scope, 503 if the token cannot be checked now.

    Only the Authorization header is read, never a query string. Being a `SecurityBase`, it shows in the OpenAPI
    document as an HTTP bearer scheme.
    """

    def __init__(self, verifier: TokenVerifier, *, scheme_name: str = "bearer") -> None:
        self.verifier = verifier
        self.model = HTTPBearerModel()
        self.scheme_name = scheme_name

    async def __call__(self, security_scopes: SecurityScopes, request: Request) -> TokenInfo:
        try:
            info = await self.verifier.verify(bearer_token(request))
            info.require(*security_scopes.scopes)
        except OAuthError as error:
            raise HTTPException(error.status, detail=error.body(), headers=challenge_headers(error)) from None
        return info
