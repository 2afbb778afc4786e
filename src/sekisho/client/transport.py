"""The client's HTTP: exchanges bounded in time and size, and the URLs it is willing to talk to."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import httpx

from sekisho.client.errors import ClientError

TIMEOUT: Final = 5.0  # seconds for a whole exchange, not per read
MAX_BODY: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: httpx.Headers = field(default_factory=httpx.Headers)

    def json(self) -> Any:
        """The body as JSON; `ValueError` if it is not."""
        try:
            return json.loads(self.body)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


async def exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    failure: Callable[[str], ClientError],
    *,
    timeout: float | None = None,
    **request: Any,
) -> Answer:
    """One request, redirects not followed; a network failure, a timeout or a body over 1 MiB → `failure(message)`."""
    timeout = TIMEOUT if timeout is None else timeout
    try:
        with anyio.fail_after(timeout):
            return await _read(http, method, url, failure, timeout, **request)
    except TimeoutError:
        raise failure(f"{url} did not answer within {timeout:g} s; try again later") from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        problem = f"could not reach {url} ({type(error).__name__})"
        raise failure(f"{problem}; is the address right and the server up?") from None


async def _read(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    failure: Callable[[str], ClientError],
    timeout: float,
    **request: Any,
) -> Answer:
    async with http.stream(method, url, timeout=timeout, follow_redirects=False, **request) as response:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BODY:
                raise failure(f"{url} answered more than {MAX_BODY // 1024} KiB; is this the right server?")
        return Answer(response.status_code, bytes(body), response.headers)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why `url` is no place for credentials, or None: https, or http to a loopback host only (RFC 8252 §8.3)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return f"{url!r} is not an absolute https URL"
    if parts.scheme == "http" and not is_loopback(host):
        return f"{url!r} uses plain http, allowed only for 127.0.0.1, [::1] or localhost; use https"
    if parts.fragment or "#" in url:
        return f"{url!r} must not have a #fragment"
    return None
