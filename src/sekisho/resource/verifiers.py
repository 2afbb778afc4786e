"""What every token verifier gives and refuses, and the same-process one that looks tokens up in the store."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from sekisho.errors import InsufficientScope, InvalidToken, TemporarilyUnavailable
from sekisho.protocol import resources, tokens
from sekisho.protocol.jwt_access import MAX_TOKEN_LENGTH

_VISIBLE_ASCII: Final = re.compile(r"[!-~]+")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a resource server knows about a valid access token."""

    client_id: str
    user_id: str | None
    scope: tuple[str, ...]
    expires_at: int
    # RFC 8707 / RFC 9068 `aud`: the resources it is for; () when it names none. Not compared: a token issued without
    # `resource` has the issuer as `aud` in a JWT, and no audience in the store or an introspection answer.
    audience: tuple[str, ...] = field(default=(), compare=False)
    # RFC 9449 §6: the thumbprint of the DPoP key the token is bound to (`cnf.jkt`); None: a bearer token
    jkt: str | None = field(default=None, compare=False)

    def require(self, *scopes: str) -> None:
        """RFC 6750 §3.1: `insufficient_scope` names the first missing scope."""
        for scope in scopes:
            if scope not in self.scope:
                raise InsufficientScope(scope)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> TokenInfo:
        """The token's info; `InvalidToken` if it is not a valid access token, `VerifierUnavailable` if unknowable."""
        ...


class VerifierUnavailable(TemporarilyUnavailable):
    """The authorization server could not be asked or gave no usable answer: a 503, never a 401 or a 500."""

    def __init__(self, detail: str) -> None:
        super().__init__("the access token cannot be checked right now; try again later", detail=detail)


def check_shape(token: str) -> None:
    """Refuse, before any lookup, what cannot be an access token: empty, oversized, not ASCII, a refresh token."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("the access token is too large")
    if not _VISIBLE_ASCII.fullmatch(token):
        raise InvalidToken("the access token is not valid")
    if token.startswith(tokens.REFRESH_TOKEN):
        raise InvalidToken("a refresh token is not an access token")


def check_audience(info: TokenInfo, audience: str | None, *, accept_without_audience: bool) -> TokenInfo:
    """`info` if the token is meant for `audience` (RFC 8707 §2, RFC 9068 §4: a resource server refuses a token
    issued for another); None accepts any. A token that names no audience is accepted only with
    `accept_without_audience` (a token issued without `resource` is, at sekisho, for the issuer's own API)."""
    if audience is None:
        return info
    if not info.audience:
        if accept_without_audience:
            return info
        raise InvalidToken("the access token is not bound to this resource (it names no audience)")
    if not resources.names(info.audience, audience):
        raise InvalidToken("the access token is meant for another audience")
    return info


class _StoredToken(Protocol):
    @property
    def client_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def scope(self) -> str: ...
    @property
    def expires_at(self) -> int: ...
    @property
    def resource(self) -> str | None: ...
    @property
    def jkt(self) -> str | None: ...


class TokenLookup(Protocol):
    """What `StoreVerifier` needs of a store: sekisho's own store satisfies it."""

    async def find_access_token(self, digest: str, now: int) -> _StoredToken | None: ...


class StoreVerifier:
    """Look the token's digest up in the authorization server's store (same process); opaque and JWT tokens alike.

    With `audience` (this resource server's URI, RFC 8707), a token issued for other resources is refused, and one
    issued without `resource` too unless `accept_without_audience` (see `check_audience`)."""

    def __init__(
        self,
        store: TokenLookup,
        *,
        clock: Callable[[], float] = time.time,
        audience: str | None = None,
        accept_without_audience: bool = False,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audience = audience
        self._accept_without_audience = accept_without_audience

    async def verify(self, token: str) -> TokenInfo:
        check_shape(token)
        found = await self._store.find_access_token(tokens.digest(token), int(self._clock()))
        if found is None:
            raise InvalidToken("the access token is not valid, has expired or was revoked")
        info = TokenInfo(
            client_id=found.client_id,
            user_id=found.user_id,
            scope=tuple(found.scope.split()),
            expires_at=found.expires_at,
            audience=tuple((found.resource or "").split()),
            jkt=found.jkt,
        )
        return check_audience(info, self._audience, accept_without_audience=self._accept_without_audience)
