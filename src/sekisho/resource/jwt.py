"""Verify an RFC 9068 JWT access token locally, with the keys of the authorization server's JWKS."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

import httpx
from joserfc.jwk import KeySet

from sekisho.errors import InvalidToken
from sekisho.protocol import jwt_access
from sekisho.resource.jwks import KEY_TYPES, JwksKeys
from sekisho.resource.verifiers import TokenInfo, TokenVerifier, check_shape


class JwtVerifier:
    """Signature with a pinned `alg`, `typ`, `iss`, `aud`, `exp`, `iat` and `nbf`, within `leeway` seconds of skew.

    `audience`: this resource server's URI (RFC 8707; sekisho's default audience is its issuer): a token whose `aud`
    does not name it is refused, and a JWT without `aud` always is (RFC 9068 §4).

    A token checked only here stays valid until its `exp` even if it was revoked: it carries everything, and the
    authorization server is not asked. To see revocations, pass `confirm_with` (say an `IntrospectionVerifier`, which
    sees one within its `cache_ttl`): it is asked after the local checks pass, and its refusal or unavailability is
    this verifier's.

    A client sends the same token with every call until it expires, so a token that passed is remembered (up to
    `remembered` tokens, the oldest forgotten first; 0: none): the same string again is only re-checked for expiry,
    against the same keys. Remembered tokens are checked in full again once the JWKS is refetched (every `jwks_ttl`
    seconds, or for an unknown `kid`), so a key taken out of the JWKS stops its tokens then, as without memory.
    `confirm_with` is asked every time.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        algorithms: Collection[str] = (jwt_access.ALGORITHM,),
        leeway: int = 30,
        http: httpx.AsyncClient | None = None,
        jwks_ttl: float = 300,
        min_refetch_interval: float = 10,
        clock: Callable[[], float] = time.time,
        confirm_with: TokenVerifier | None = None,
        remembered: int = 4096,
    ) -> None:
        check_algorithms(algorithms)
        if remembered < 0:
            raise ValueError("remembered must not be negative")
        if not 0 <= leeway <= jwt_access.MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {jwt_access.MAX_LEEWAY} seconds")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = tuple(algorithms)
        self._leeway = leeway
        self._clock = clock
        self._confirm_with = confirm_with
        self._remembered = remembered
        self._passed: dict[str, tuple[KeySet, str, TokenInfo, int]] = {}  # token → keys, kid, info, issued at
        self._keys = JwksKeys(
            jwks_url,
            algorithms=self._algorithms,
            http=http,
            ttl=jwks_ttl,
            min_refetch_interval=min_refetch_interval,
            clock=clock,
        )

    async def verify(self, token: str) -> TokenInfo:
        # A remembered token passed `check_shape` when it was first checked.
        info = await self._remembered_info(token) or await self._checked_info(token)
        if self._confirm_with is not None:
            await self._confirm_with.verify(token)
        return info

    async def _checked_info(self, token: str) -> TokenInfo:
        check_shape(token)
        header = jwt_access.unverified_header(token)
        # Checked before the keys are looked at, so a token that will be refused anyway never causes a JWKS fetch.
        if header.get("alg") not in self._algorithms or not isinstance(header.get("kid"), str):
            raise InvalidToken("the access token is not signed with an accepted algorithm and a named key")
        keys = await self._keys.for_kid(header["kid"])
        claims = jwt_access.verify(
            token,
            keys,
            issuer=self._issuer,
            audience=self._audience,
            now=int(self._clock()),
            leeway=self._leeway,
            algorithms=self._algorithms,
        )
        info = TokenInfo(
            client_id=claims.client_id,
            # RFC 9068 §2.2: `sub` is the client itself when no user is involved (client_credentials).
            user_id=None if claims.subject == claims.client_id else claims.subject,
            scope=tuple(claims.scope.split()),
            expires_at=claims.expires_at,
            audience=(claims.audience,) if isinstance(claims.audience, str) else claims.audience,
            jkt=claims.jkt,
        )
        if self._remembered:
            if len(self._passed) >= self._remembered:
                del self._passed[next(iter(self._passed))]
            self._passed[token] = (keys, header["kid"], info, claims.issued_at)
        return info

    async def _remembered_info(self, token: str) -> TokenInfo | None:
        """What a token that passed against the keys still in use and is within its lifetime gave; else None (and
        forgotten), and it is checked in full."""
        passed = self._passed.get(token)
        if passed is None:
            return None
        keys, kid, info, issued_at = passed
        now = int(self._clock())
        if await self._keys.for_kid(kid) is keys and issued_at - self._leeway <= now < info.expires_at + self._leeway:
            return info
        self._passed.pop(token, None)
        return None

    async def aclose(self) -> None:
        await self._keys.aclose()


def check_algorithms(algorithms: Collection[str]) -> None:
    """Only asymmetric signatures: `none` forges anything, and an HS* key would have to be shared with the issuer."""
    if isinstance(algorithms, str) or not algorithms:
        raise ValueError("algorithms must be a non-empty collection of algorithm names, such as ('ES256',)")
    for algorithm in algorithms:
        if algorithm[:2] not in KEY_TYPES:
            raise ValueError(f"{algorithm!r} is not an asymmetric signature algorithm (ES*, RS*, PS*, EdDSA)")
