"""Verify access tokens and require scopes in any Starlette or FastAPI app. Never imports `sekisho.server`.

Three `TokenVerifier`s: `StoreVerifier` (same process), `IntrospectionVerifier` (RFC 7662 over HTTP, cached) and
`JwtVerifier` (RFC 9068, keys from a JWKS URL), each refusing tokens meant for another resource when given its
`audience` (RFC 8707); `ProtectedResource`, the resource server's metadata (RFC 9728). Adapters:
`sekisho.resource.starlette`, `sekisho.resource.fastapi`.
"""

from sekisho.resource.introspection import IntrospectionVerifier
from sekisho.resource.jwt import JwtVerifier
from sekisho.resource.metadata import ProtectedResource
from sekisho.resource.verifiers import StoreVerifier, TokenInfo, TokenLookup, TokenVerifier, VerifierUnavailable

__all__ = [
    "IntrospectionVerifier",
    "JwtVerifier",
    "ProtectedResource",
    "StoreVerifier",
    "TokenInfo",
    "TokenLookup",
    "TokenVerifier",
    "VerifierUnavailable",
]
