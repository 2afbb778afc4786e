"""Token verifiers: a protocol, and a same-process store lookup (introspection and JWT come later)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sekisho.errors import InsufficientScope, InvalidToken
from sekisho.protocol import tokens


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a resource server knows about a valid access token."""

    client_id: str
    user_id: str | None
    scope: tuple[str, ...]
    expires_at: int

    def require(self, scope: str) -> None:
        """RFC 6750 §3.1: `insufficient_scope` names the missing scope."""
        if scope not in self.scope:
            raise InsufficientScope(scope)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> TokenInfo:
        """The token's info, or raise `InvalidToken`."""
        ...


class _StoredToken(Protocol):
    @property
    def client_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def scope(self) -> str: ...
    @property
    def expires_at(self) -> int: ...


class TokenLookup(Protocol):
    """What `StoreVerifier` needs of a store: sekisho's own store satisfies it."""

    async def find_access_token(self, digest: str, now: int) -> _StoredToken | None: ...


class StoreVerifier:
    """Look the token's digest up in the authorization server's store (same process)."""

    def __init__(self, store: TokenLookup, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def verify(self, token: str) -> TokenInfo:
        if not token.startswith(tokens.ACCESS_TOKEN):
            raise InvalidToken("the access token is not valid")
        found = await self._store.find_access_token(tokens.digest(token), int(self._clock()))
        if found is None:
            raise InvalidToken("the access token is not valid, has expired or was revoked")
        return TokenInfo(
            client_id=found.client_id,
            user_id=found.user_id,
            scope=tuple(found.scope.split()),
            expires_at=found.expires_at,
        )
