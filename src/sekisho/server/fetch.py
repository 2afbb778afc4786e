"""Fetching what a URL client id points at, safe against SSRF.

Every connection goes to an address this module resolved and checked itself (no second DNS look-up, so no
rebinding between check and connect), on every redirect hop; with a time budget, a size cap, a hop cap, and a cap on
the fetches in flight to one host and in all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from sekisho import __version__
from sekisho.server.events import security_event

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

TIMEOUT = 5.0
MAX_BYTES = 256 * 1024
MAX_REDIRECTS = 3
PER_HOST = 4  # fetches in flight to one host name
IN_FLIGHT = 32  # fetches in flight in all
SLOT_WAIT = 2.0  # seconds a fetch waits for a free slot before it is refused as busy


class FetchError(Exception):
    """A fetch that failed; the message says why in one line, for the person or developer who reads it."""


class Redirected(FetchError):
    """A redirect met where none may be followed."""


class BlockedAddress(httpcore.ConnectError):
    """A connection the address policy refuses; the message names the host only, `addresses` go to the log."""

    def __init__(self, host: str, addresses: str) -> None:
        super().__init__(f"{host} is not a public address")
        self.host = host
        self.addresses = addresses


def is_public(address: IPAddress) -> bool:
    """Not loopback, private, link-local, multicast, reserved, shared or unspecified (IPv4-mapped included)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:  # 2002::/16 carries an IPv4 address a 6to4 relay would reach
            address = address.sixtofour
        elif address in _NAT64:  # 64:ff9b::/96 (RFC 6052): a NAT64 gateway reaches the IPv4 address inside
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address in _NAT64_LOCAL or address.is_site_local or int(address) >> 32 == 0:
            return False  # local-use NAT64, deprecated site-local, IPv4-compatible ::a.b.c.d
    return address.is_global and not address.is_multicast


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which peers a fetch may connect to; `allow_private` is `--allow-private-client-ids`."""

    allow_private: bool = False
    also_allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def allows(self, address: IPAddress) -> bool:
        return self.allow_private or is_public(address) or any(address in net for net in self.also_allowed)

    @property
    def allows_http(self) -> bool:
        return self.allow_private or bool(self.also_allowed)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks each address against the policy, and connects to a checked address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(found.split("%", 1)[0]) for found in await self._resolve(host, port)]
            except OSError as exc:
                raise httpcore.ConnectError(f"the host name {host} does not resolve") from exc
        if not addresses:
            raise httpcore.ConnectError(f"the host name {host} has no address")
        allowed = [address for address in addresses if self._policy.allows(address)]
        if not allowed:
            raise BlockedAddress(host, ", ".join(map(str, addresses[:4])))
        return await self._inner.connect_tcp(str(allowed[0]), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("a unix socket", path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        super().__init__(http2=False, retries=0)
        # httpx has no public hook for the network backend; its pool takes one, so the pool is rebuilt here.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=IN_FLIGHT,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy, resolver),
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    headers: httpx.Headers
    body: bytes


@dataclass
class _Gate:
    semaphore: asyncio.Semaphore
    users: int = 0  # fetches waiting or in flight


class Slots:
    """At most `per_host` fetches in flight to one host name and `total` in all; a fetch waits `wait` s for one."""

    def __init__(self, per_host: int = PER_HOST, total: int = IN_FLIGHT, wait: float = SLOT_WAIT) -> None:
        self.per_host, self.total, self.wait = per_host, total, wait
        self._all = asyncio.Semaphore(total)
        self._hosts: dict[str, _Gate] = {}

    @asynccontextmanager
    async def take(self, host: str) -> AsyncIterator[None]:
        """A slot for one fetch to `host`, or FetchError once `wait` has passed without one."""
        gate = self._hosts.setdefault(host, _Gate(asyncio.Semaphore(self.per_host)))
        gate.users += 1  # the entry goes with its last user: hosts seen once cost nothing afterwards
        try:
            async with (
                _held(gate.semaphore, self.wait, f"{host} is busy or slow (too many fetches to it at once); try again"),
                _held(self._all, self.wait, "too many client pages are being fetched at once; try again"),
            ):
                yield
        finally:
            gate.users -= 1
            if not gate.users:
                del self._hosts[host]


@asynccontextmanager
async def _held(semaphore: asyncio.Semaphore, wait: float, busy: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(wait):
            await semaphore.acquire()
    except TimeoutError as exc:
        raise FetchError(busy) from exc
    try:
        yield
    finally:
        semaphore.release()


class Fetcher:
    """One HTTP client for all URL-client fetches of a process."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        user_agent: str,
        resolver: Resolver = system_resolver,
        slots: Slots | None = None,
    ) -> None:
        self.policy = policy
        self.slots = slots or Slots()
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy, resolver),
            follow_redirects=False,
            trust_env=False,  # never through a proxy from the environment
            timeout=httpx.Timeout(TIMEOUT),
            headers={"User-Agent": user_agent},
            event_hooks={"response": [_refuse_redirect]},
        )

    @classmethod
    def for_issuer(cls, issuer: str, policy: AddressPolicy, resolver: Resolver = system_resolver) -> Fetcher:
        return cls(policy, user_agent=f"sekisho/{__version__} (+{issuer}/)", resolver=resolver)

    async def close(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        accept: str,
        max_bytes: int = MAX_BYTES,
        timeout: float = TIMEOUT,
        redirects: int = MAX_REDIRECTS,
    ) -> Fetched:
        """GET with up to `redirects` redirects followed by hand (each hop checked), or raise FetchError.

        With `redirects=0` a redirect raises `Redirected`. Waits at most `Slots.wait` for a slot to the URL's host.
        """
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")  # one host however it is spelled
            async with self.slots.take(host), asyncio.timeout(timeout):  # timed once in a slot
                return await self._follow(url, accept, max_bytes, redirects)
        except TimeoutError as exc:
            raise FetchError(f"{_host(url)} did not answer within {timeout:g} s") from exc
        except BlockedAddress as exc:
            raise _refused(url, exc) from exc
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, BlockedAddress):  # httpx wraps the backend's error in its own ConnectError
                raise _refused(url, exc.__cause__) from exc
            raise FetchError(f"{_host(url)} could not be reached ({type(exc).__name__})") from exc
        except (httpx.InvalidURL, ValueError) as exc:  # a malformed URL, given or met on a redirect: not a 500
            raise FetchError(f"a URL on the way is not a valid URL ({str(exc)[:200]})") from exc

    async def _follow(self, url: str, accept: str, max_bytes: int, redirects: int) -> Fetched:
        for _ in range(redirects + 1):
            self._check_url(url)
            # identity only: a compressed body could expand past the size cap before it is counted
            headers = {"Accept": accept, "Accept-Encoding": "identity"}
            extensions = {_NO_REDIRECT: True} if not redirects else {}
            async with self._client.stream("GET", url, headers=headers, extensions=extensions) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"{url} answered HTTP {response.status_code}")
                if response.status_code != 200:
                    raise FetchError(f"{url} answered HTTP {response.status_code}, not 200")
                if response.headers.get("content-encoding", "identity").lower() != "identity":
                    raise FetchError(f"{url} sent a compressed body although none was asked for")
                body = await _read_capped(response, max_bytes, url)
                content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                return Fetched(str(response.url), content_type, response.headers, body)
        raise FetchError(f"more than {redirects} redirects")

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and self.policy.allows_http):
            raise FetchError(f"only https URLs are fetched, not {url[:200]}")
        if parts.username or parts.password:
            raise FetchError("URLs with a user name or password are not fetched")
        try:
            _ = parts.port  # out of range (e.g. :99999) would reach connect() and fail there as a 500
        except ValueError as exc:
            raise FetchError(f"{url[:200]} has an invalid port") from exc


_NO_REDIRECT = "sekisho.no_redirect"


async def _refuse_redirect(response: httpx.Response) -> None:
    """Raise `Redirected` where none may be followed, before httpx reads the Location (malformed or not)."""
    if response.request.extensions.get(_NO_REDIRECT) and response.is_redirect and "location" in response.headers:
        raise Redirected(f"{response.request.url} answered with a redirect (HTTP {response.status_code})")


def _refused(url: str, exc: BlockedAddress) -> FetchError:
    """The SSRF refusal: the host for the reader; its addresses, and the URL asked for, only in the log."""
    security_event("ssrf_refused", host=exc.host[:200], addresses=exc.addresses[:200], url=url[:200])
    return FetchError(f"refused to connect: {exc} (SSRF protection)")


async def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url} is larger than {max_bytes // 1024} KiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url} is larger than {max_bytes // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url[:100]
