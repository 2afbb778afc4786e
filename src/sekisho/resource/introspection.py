"""Verify a token by asking the authorization server (RFC 7662), keeping active answers for a short while."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import httpx

from sekisho.errors import InvalidToken
from sekisho.protocol import tokens
from sekisho.resource.cache import TtlCache
from sekisho.resource.upstream import Upstream, unavailable
from sekisho.resource.verifiers import TokenInfo, check_audience, check_shape


class IntrospectionVerifier:
    """RFC 7662 introspection as this resource server's client; a revocation is seen within `cache_ttl` seconds.

    With `audience` (this resource server's URI, RFC 8707), a token whose `aud` names other resources is refused,
    and one without `aud` too unless `accept_without_audience` (see `check_audience`).

    Only active answers are cached (keyed by the token's SHA-256, never past `exp`): caching refusals would let
    anyone sending random tokens push every good entry out of the bounded cache, and a client told its token is
    invalid stops sending it.
    """

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        *,
        http: httpx.AsyncClient | None = None,
        cache_ttl: float = 30,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
        audience: str | None = None,
        accept_without_audience: bool = False,
    ) -> None:
        if cache_ttl < 0:
            raise ValueError("cache_ttl must not be negative")
        self._authorization = basic_authorization(client_id, client_secret)
        self._upstream = Upstream(endpoint, http)
        self._cache: TtlCache[TokenInfo] = TtlCache(max_entries)
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._audience = audience
        self._accept_without_audience = accept_without_audience

    async def verify(self, token: str) -> TokenInfo:
        info = await self._info(token)
        return check_audience(info, self._audience, accept_without_audience=self._accept_without_audience)

    async def _info(self, token: str) -> TokenInfo:
        check_shape(token)
        key = tokens.digest(token)
        cached = self._cache.get(key, self._clock())
        if cached is not None:
            return cached
        answer = await self._upstream.json(
            "POST",
            data={"token": token, "token_type_hint": "access_token"},
            headers={"Authorization": self._authorization, "Accept": "application/json"},
        )
        now = self._clock()
        info = parse_answer(answer, now)
        self._cache.put(key, info, until=min(now + self._cache_ttl, info.expires_at), now=now)
        return info

    async def aclose(self) -> None:
        await self._upstream.aclose()


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: both parts are form-urlencoded, then joined with ':' and base64-encoded."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def parse_answer(answer: Any, now: float) -> TokenInfo:
    """The TokenInfo of an RFC 7662 §2.2 answer; `InvalidToken` unless it is an active access token."""
    if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
        raise unavailable("the introspection answer is not an RFC 7662 object")
    if not answer["active"]:
        raise InvalidToken("the access token is not valid, has expired or was revoked")
    if answer.get("token_type") == "refresh_token":
        raise InvalidToken("a refresh token is not an access token")
    client_id, scope, expires_at, subject = (answer.get(name) for name in ("client_id", "scope", "exp", "sub"))
    scope = "" if scope is None else scope
    if not (isinstance(client_id, str) and isinstance(scope, str) and type(expires_at) is int):
        raise unavailable("the introspection answer lacks a client_id or an exp, or has a non-string scope")
    if subject is not None and not isinstance(subject, str):
        raise unavailable("the introspection answer's sub is not a string")
    audience = answer.get("aud")
    audience = [audience] if isinstance(audience, str) else [] if audience is None else audience
    if not isinstance(audience, list) or not all(isinstance(item, str) for item in audience):
        raise unavailable("the introspection answer's aud is neither a string nor a list of strings")
    if expires_at <= now:
        raise InvalidToken("the access token has expired")
    cnf = answer.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if cnf is not None and not isinstance(jkt, str):
        raise unavailable("the introspection answer's cnf names no DPoP key (jkt)")
    return TokenInfo(
        client_id=client_id,
        user_id=subject,
        scope=tuple(scope.split()),
        expires_at=expires_at,
        audience=tuple(audience),
        jkt=jkt,
    )
