"""RFC 9068 signing keys, kept in the database so every worker and server signs and publishes the same keys.

The newest unretired key signs; each process reads which that is at most every `SIGNER_MEMORY` seconds. `rotate`
retires the others; a retired key stays published in the JWKS until every token it signed has expired (plus the
most clock skew a verifier may allow, plus `SIGNER_MEMORY`, during which a process may still sign with it), then it
is dropped.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from joserfc.jwk import ECKey

from sekisho.protocol import jwt_access
from sekisho.server.entities import SigningKey
from sekisho.server.store import Store

FORGET_AFTER = 7 * 24 * 3600  # retired keys older than this are deleted at the next rotation
SIGNER_MEMORY = 5  # seconds a process signs with the key it last read before reading the keys again


def new_key(now: int) -> SigningKey:
    key = jwt_access.new_signing_key()
    return SigningKey(
        kid=str(key.kid),
        algorithm=jwt_access.ALGORITHM,
        private_jwk=json.dumps(key.as_dict(private=True)),
        created_at=now,
    )


async def rotate(store: Store, now: int) -> SigningKey:
    """A new signing key; the others are retired now, still published until their tokens expire."""
    key = new_key(now)
    await store.keys.add_signing_key(key, retire_others=True)
    await store.keys.delete_signing_keys_retired_before(now - FORGET_AFTER)
    return key


class Signer:
    """Signs access tokens with one key, named by `kid`.

    The tokens asked for in one turn of the event loop are signed one after another in a callback at the start of
    the next turn, not each inside its own request, so the signing code and its tables take the core's caches once
    a turn rather than once a request. A token waits one turn more; a request that is given up
    meanwhile gets no signature, and an error reaches the request whose token it is.
    """

    __slots__ = ("_turn", "key")

    def __init__(self, key: ECKey) -> None:
        self.key = key
        self._turn: _Turn | None = None  # the tokens waiting for the next turn, if any

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    async def sign(self, claims: jwt_access.AccessClaims) -> str:
        """The signed token, with the others asked for in this turn of the loop."""
        loop = asyncio.get_running_loop()
        turn = self._turn
        if turn is None or turn.loop is not loop:
            turn = self._turn = _Turn(loop)
            loop.call_soon(self._sign_turn, turn)
        answer: asyncio.Future[str] = loop.create_future()
        turn.waiting.append((claims, answer))
        return await answer

    def _sign_turn(self, turn: _Turn) -> None:
        if self._turn is turn:
            self._turn = None
        for claims, answer in turn.waiting:
            if answer.done():  # the request was given up (cancelled)
                continue
            try:
                answer.set_result(jwt_access.sign(claims, self.key))
            except Exception as error:  # the next token is another request's: each gets its own answer
                answer.set_exception(error)


class _Turn:
    """What a `Signer` was asked for in one turn of `loop`."""

    __slots__ = ("loop", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[tuple[jwt_access.AccessClaims, asyncio.Future[str]]] = []


class SigningKeys:
    """Which key signs, read from the database at most every `SIGNER_MEMORY` seconds, so a `sekisho keys rotate`
    run against the database takes effect in every process within that time; the JWKS is read on each use."""

    def __init__(self, store: Store, access_token_ttl: int) -> None:
        self._store = store
        self._horizon = access_token_ttl + jwt_access.MAX_LEEWAY + SIGNER_MEMORY
        self._parsed: dict[str, ECKey] = {}  # a kid always names the same key, so parsing once is safe
        self._last: Signer | None = None  # what the last read found
        self._read_at = 0  # when

    async def signer(self, now: int) -> Signer:
        """Sign with the newest unretired key (made on first use), as read at most `SIGNER_MEMORY` seconds ago."""
        if self._last is not None and self._read_at <= now < self._read_at + SIGNER_MEMORY:
            return self._last
        active = [key for key in await self._store.keys.list_signing_keys() if key.retired_at is None]
        if not active:
            await self._store.keys.add_signing_key(new_key(now), retire_others=False)
            active = [key for key in await self._store.keys.list_signing_keys() if key.retired_at is None]
        self._last, self._read_at = Signer(self._parse(active[-1])), now
        return self._last

    async def jwks(self, now: int) -> dict[str, Any]:
        """RFC 7517 JWK Set of the public keys whose tokens may still be alive."""
        keys = await self._store.keys.list_signing_keys()
        alive = [key for key in keys if key.retired_at is None or key.retired_at + self._horizon > now]
        return {"keys": [self._parse(key).as_dict(private=False) for key in alive]}

    def _parse(self, key: SigningKey) -> ECKey:
        parsed = self._parsed.get(key.kid)
        if parsed is None:
            parsed = self._parsed[key.kid] = ECKey.import_key(json.loads(key.private_jwk))
        return parsed
