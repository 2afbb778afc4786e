"""Reading requests: the app's state, typed, and bodies with a size cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from sekisho.errors import InvalidRequest
from sekisho.protocol.params import MAX_BODY_BYTES
from sekisho.server import rate_limits
from sekisho.server.rate_limits import RateLimit
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import Signer, SigningKeys
from sekisho.server.store import Store
from sekisho.server.url_clients import UrlClients
from sekisho.server.web.sessions import Csrf


@dataclass
class AppState:
    settings: Settings
    store: Store
    csrf: Csrf
    url_clients: UrlClients
    signing_keys: SigningKeys
    dpop_secret: bytes  # keys the stateless DPoP nonces (protocol.dpop.new_nonce)
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)  # the login throttle's pauses

    def now(self) -> int:
        return int(self.clock())

    async def signer(self, now: int) -> Signer | None:
        """What signs access tokens: None for opaque ones (see `SigningKeys.signer`)."""
        if self.settings.access_token_format != "jwt":
            return None
        return await self.signing_keys.signer(now)


def state(request: Request) -> AppState:
    found: AppState = request.app.state.sekisho
    return found


def client_address(request: Request) -> str:
    """The client's address: the peer's, or the one a `--trusted-proxy` forwarded (web/proxies.py set it)."""
    return request.client.host if request.client else "unknown"


async def count_request(request: Request, limit: RateLimit, allowed: int) -> None:
    """Count this request against its address's `limit` (`allowed` a window), or raise 429 (rate_limits.py)."""
    app = state(request)
    await rate_limits.count(app.store, limit, allowed, client_address(request), app.now())


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refusing more than `limit` bytes before reading them all."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise InvalidRequest("the request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest("the request body is too large")
        chunks.append(chunk)
    return b"".join(chunks)
