"""Verify access tokens and require scopes in any Starlette or FastAPI app. Never imports `sekisho.server`."""

from sekisho.resource.verifiers import StoreVerifier, TokenInfo, TokenLookup, TokenVerifier

__all__ = ["StoreVerifier", "TokenInfo", "TokenLookup", "TokenVerifier"]
