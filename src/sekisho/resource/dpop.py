"""DPoP (RFC 9449 §7) at a resource server: `Authorization: DPoP <token>` with a `DPoP` proof (`ath`, `htm`,
`htu`, a `jti` used once), and a DPoP-bound token refused when presented as Bearer.

`DPoPGate(...).confirm(info, conn, token)` after the verifier has given the token's `TokenInfo`; the replay cache is
in memory unless another `ReplayCache` (one shared by every process) is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import HTTPConnection

from sekisho.errors import InvalidDPoPProof, InvalidToken, UseDPoPNonce
from sekisho.protocol import dpop
from sekisho.resource.verifiers import TokenInfo

MAX_REMEMBERED = 100_000  # proofs the in-memory cache holds at most; beyond, new proofs are refused until some expire


class ReplayCache(Protocol):
    async def use(self, digest: str, expires_at: int) -> bool:
        """Record a proof's digest until `expires_at`; whether it was new."""
        ...


class MemoryReplayCache:
    """A `ReplayCache` for one process: forgets proofs once past their window."""

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = MAX_REMEMBERED) -> None:
        self._seen: dict[str, int] = {}
        self._clock = clock
        self._limit = limit

    async def use(self, digest: str, expires_at: int) -> bool:
        now = int(self._clock())
        if len(self._seen) >= self._limit:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
        if digest in self._seen and self._seen[digest] > now:
            return False
        if len(self._seen) >= self._limit:
            return False  # full of live proofs: refusing is safe, forgetting one is not
        self._seen[digest] = expires_at
        return True


def scheme_of(conn: HTTPConnection) -> str | None:
    """The Authorization header's scheme in lower case (`bearer`, `dpop`), None without the header."""
    header = conn.headers.get("authorization")
    return None if header is None else header.strip().partition(" ")[0].lower()


class DPoPGate:
    """Checks the DPoP side of a request whose token was verified. `public_url`: this server's URL as clients see
    it (behind a proxy, the request's own is the proxy's); `nonce_secret` (or a function giving it, for a secret
    known only once the server has started): proofs must carry a nonce from `DPoP-Nonce` (RFC 9449 §9), the
    stateless nonces of `protocol.dpop.new_nonce`, so a server that issues them under the same secret (sekisho's
    token endpoint) and this gate accept each other's."""

    def __init__(
        self,
        *,
        replay: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
        public_url: str | None = None,
        nonce_secret: bytes | Callable[[], bytes] | None = None,
        algorithms: Sequence[str] = dpop.ALGORITHMS,
    ) -> None:
        self.replay = replay or MemoryReplayCache(clock)
        self.algorithms = tuple(algorithms)
        self._clock = clock
        self._origin = None if public_url is None else urlsplit(public_url)[:2]
        self._nonce_secret = nonce_secret

    async def confirm(self, info: TokenInfo, conn: HTTPConnection, token: str) -> TokenInfo:
        """`info` if the request presents the token as its binding asks (RFC 9449 §7.1); else `InvalidToken` or
        `InvalidDPoPProof` / `UseDPoPNonce` (status 401)."""
        if scheme_of(conn) != "dpop":
            if info.jkt is not None:
                raise InvalidToken("this access token is DPoP-bound: send it as 'Authorization: DPoP' with a proof")
            return info
        value = dpop.one_header(conn.headers.getlist("dpop"))
        if value is None:
            raise InvalidDPoPProof("a DPoP proof is required with a DPoP token", status=401)
        now = int(self._clock())
        secret = self._nonce_secret() if callable(self._nonce_secret) else self._nonce_secret
        try:
            proof = dpop.check(
                value,
                method=conn.scope.get("method", "GET"),
                url=self._url(conn),
                now=now,
                access_token=token,
                nonce_secret=secret,
                algorithms=self.algorithms,
            )
        except UseDPoPNonce as error:
            error.status = 401
            if secret is not None:
                error.nonce = dpop.new_nonce(secret, now)
            raise
        except InvalidDPoPProof as error:
            error.status = 401
            raise
        if not await self.replay.use(proof.replay_key, proof.issued_at + dpop.LEEWAY + 1):
            raise InvalidDPoPProof("the DPoP proof was used before (its jti)", status=401)
        if info.jkt is None or info.jkt != proof.jkt:
            raise InvalidToken("the access token is not bound to the DPoP proof's key")
        return info

    def _url(self, conn: HTTPConnection) -> str:
        if self._origin is None:
            return str(conn.url)
        return urlunsplit((*self._origin, conn.url.path, "", ""))
