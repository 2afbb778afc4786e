"""The authorization server over HTTP, as a verifier asks it: bounded in time and size, every failure a 503."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import anyio
import httpx

from sekisho.resource.verifiers import VerifierUnavailable

TIMEOUT: Final = 5.0  # seconds for a whole exchange, not per read
MAX_BODY: Final = 1024 * 1024

logger = logging.getLogger(__name__)


class Upstream:
    """JSON from one URL; `VerifierUnavailable` for a network failure, a non-200 or a body that is not JSON."""

    def __init__(self, url: str, http: httpx.AsyncClient | None) -> None:
        """`http`, if given, stays the caller's to close; else `aclose` closes the client made here."""
        check_url(url)
        self.url = url
        self._http = http if http is not None else httpx.AsyncClient()
        self._owned = http is None

    async def json(self, method: str, **request: Any) -> Any:
        try:
            with anyio.fail_after(TIMEOUT):
                status, body = await self._exchange(method, **request)
        except (httpx.HTTPError, TimeoutError) as error:
            raise unavailable(f"{method} {self.url} failed: {error!r}") from None
        if status != 200:
            raise unavailable(f"{method} {self.url} answered {status}")
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise unavailable(f"{method} {self.url} answered something that is not JSON") from None

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def _exchange(self, method: str, **request: Any) -> tuple[int, bytes]:
        async with self._http.stream(method, self.url, timeout=TIMEOUT, follow_redirects=False, **request) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise unavailable(f"{method} {self.url} answered more than {MAX_BODY} bytes")
            return response.status_code, bytes(body)


def check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not an http(s) URL")


def unavailable(detail: str) -> VerifierUnavailable:
    """The error for an authorization server that gave no usable answer, logged here once."""
    logger.warning("token verification unavailable: %s", detail)
    return VerifierUnavailable(detail)
