"""The authorization server's signing keys, fetched from its JWKS URL (RFC 7517) and cached."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from typing import Any, Final

import anyio
import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, KeySet

from sekisho.resource.upstream import Upstream, unavailable
from sekisho.resource.verifiers import VerifierUnavailable

# The key type each family of signature algorithms needs (RFC 7518 §3.1, RFC 8037 §3.1).
KEY_TYPES: Final = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}

logger = logging.getLogger(__name__)


class JwksKeys:
    """Kept `ttl` seconds; an unknown `kid` refetches, but never more than once per `min_refetch_interval`.

    The interval holds for failed fetches too, so neither random `kid`s nor a down server make this hammer it. A
    failed fetch keeps the keys already known; with none known it is `VerifierUnavailable`.
    """

    def __init__(
        self,
        url: str,
        *,
        algorithms: Collection[str],
        http: httpx.AsyncClient | None = None,
        ttl: float = 300,
        min_refetch_interval: float = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl < 0 or min_refetch_interval < 0:
            raise ValueError("the JWKS ttl and min_refetch_interval must not be negative")
        self._algorithms = tuple(algorithms)
        self._upstream = Upstream(url, http)
        self._ttl = ttl
        self._min_interval = min_refetch_interval
        self._clock = clock
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()  # those of `_keys`: asked on every call
        self._fetched_at = -math.inf
        self._tried_at = -math.inf
        self._lock = anyio.Lock()

    async def for_kid(self, kid: str) -> KeySet:
        """The current keys, refetched first if they are old or lack `kid` (and the last try is not too recent)."""
        if self._wants_fetch(kid):
            async with self._lock:
                if self._wants_fetch(kid):  # another task may have fetched while this one waited
                    await self._fetch()
        if self._keys is None:
            raise VerifierUnavailable(f"no signing keys could be fetched from {self._upstream.url} yet")
        return self._keys

    async def aclose(self) -> None:
        await self._upstream.aclose()

    def _wants_fetch(self, kid: str) -> bool:
        now = self._clock()
        if now < self._tried_at + self._min_interval:
            return False
        stale = now >= self._fetched_at + self._ttl
        return stale or self._keys is None or kid not in self._kids

    async def _fetch(self) -> None:
        self._tried_at = self._clock()
        try:
            keys = usable_keys(await self._upstream.json("GET"), self._algorithms)
        except VerifierUnavailable:
            if self._keys is None:
                raise
            return  # keep the keys known; logged where it failed
        self._keys, self._kids = keys, frozenset(str(key.kid) for key in keys)
        self._fetched_at = self._tried_at


def usable_keys(document: Any, algorithms: Collection[str]) -> KeySet:
    """The signing keys of a JWK Set that fit `algorithms` and have a `kid`; any other entry is ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise unavailable("the JWKS is not a JWK Set")
    kinds = {KEY_TYPES.get(algorithm[:2]) for algorithm in algorithms}
    keys = [key for entry in document["keys"] if (key := _usable_key(entry, kinds, algorithms)) is not None]
    return KeySet(keys)


def _usable_key(entry: Any, kinds: set[str | None], algorithms: Collection[str]) -> Key | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
        return None
    # Members of any JSON type may come: compared as strings only (a list `kty` is unhashable for `in kinds`).
    if not isinstance(entry.get("kty"), str) or entry["kty"] not in kinds:
        return None
    if entry.get("use", "sig") != "sig" or ("alg" in entry and entry["alg"] not in algorithms):
        return None
    public = {name: value for name, value in entry.items() if name not in ("d", "p", "q", "dp", "dq", "qi", "oth")}
    try:
        return JWKRegistry.import_key(public)
    except (JoseError, ValueError, TypeError, KeyError) as error:  # KeyError: joserfc on an unknown `crv`
        logger.warning("ignoring the JWKS key %r: %r", entry["kid"], error)
        return None
