"""Verify access tokens and require scopes in any Starlette or FastAPI app. Never imports `sekisho.server`.

Three `TokenVerifier`s: `StoreVerifier` (same process), `IntrospectionVerifier` (RFC 7662 over HTTP, cached) and
`JwtVerifier` (RFC 9068, keys from a JWKS URL). Adapters: `sekisho.resource.starlette`, `sekisho.resource.fastapi`.
"""

from sekisho.resource.introspection import IntrospectionVerifier
from sekisho.resource.jwt import JwtVerifier
from sekisho.resource.verifiers import StoreVerifier, TokenInfo, TokenLookup, TokenVerifier, VerifierUnavailable

__all__ = [
    "IntrospectionVerifier",
    "JwtVerifier",
    "StoreVerifier",
    "TokenInfo",
    "TokenLookup",
    "TokenVerifier",
    "VerifierUnavailable",
]
