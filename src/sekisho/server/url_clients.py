"""Resolve a URL client id: its page, fetched safely and cached within HTTP caching rules (errors never)."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import re
from collections.abc import Callable

import httpx

from sekisho.errors import InvalidClient, InvalidRequest
from sekisho.protocol import client_ids
from sekisho.server.client_documents import ClientMetadata, DocumentError, parse
from sekisho.server.entities import Client
from sekisho.server.fetch import Fetcher, FetchError, Redirected
from sekisho.server.store import Store

DEFAULT_TTL = 300  # no caching headers: heuristic freshness, kept short
MAX_TTL = 24 * 3600
LOGO_BYTES = 64 * 1024
LOGO_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # never SVG: it can carry script
ACCEPT = "text/html, application/json;q=0.9, */*;q=0.1"
URL_CLIENT_GRANTS = ("authorization_code", "refresh_token")
PAGE_ERROR = "the client_id page cannot be used: "
REDIRECTED = "the client_id URL answered with a redirect; the client's page must be at the client_id URL itself"


def virtual_client(client_id: str, found: ClientMetadata | None = None) -> Client:
    """A URL client as the services see it: public, no secret, the grants of the code flow."""
    return Client(
        client_id=client_id,
        name=found.name if found else client_id,
        redirect_uris=found.redirect_uris if found else (),
        grant_types=URL_CLIENT_GRANTS,
        scopes=None,
        secret_digest=None,
        created_at=0,
        logo=found.logo_uri if found else None,
        client_uri=client_id,
    )


def normalize(client_id: str, fetcher: Fetcher) -> str:
    return client_ids.normalize(client_id, allow_private=fetcher.policy.allows_http)


class UrlClients:
    def __init__(self, store: Store, fetcher: Fetcher, clock: Callable[[], float]) -> None:
        self.store = store
        self.fetcher = fetcher
        self.clock = clock

    def known(self, client_id: str, *, status: int = 401) -> Client:
        """A URL client by its id alone (token endpoint): public, so there is nothing to fetch or check."""
        try:
            return virtual_client(normalize(client_id, self.fetcher))
        except InvalidClient as exc:
            raise InvalidClient(exc.description, status=status) from exc

    async def resolve(self, client_id: str) -> Client:
        """The client its page describes, or `invalid_client` (400) saying what went wrong."""
        normalized = normalize(client_id, self.fetcher)
        now = int(self.clock())
        found = await self.store.clients.find_url_client(normalized, now)
        if found is None:
            found, ttl = await self._fetch(normalized, requested=client_id)
            if ttl > 0:
                await self.store.clients.save_url_client(found, now, now + ttl)
        return virtual_client(normalized, found)

    async def _fetch(self, client_id: str, *, requested: str) -> tuple[ClientMetadata, int]:
        try:
            # The page is the client_id URL itself: an open redirect on the app's host must not let another page
            # speak for the app (issue 21), so no redirect is followed here; logos may follow some.
            fetched = await self.fetcher.get(client_id, accept=ACCEPT, redirects=0)
            allow = self.fetcher.policy.allows_http
            found = await asyncio.to_thread(parse, client_id, fetched, allow_private=allow, requested=requested)
        except Redirected as exc:
            raise InvalidRequest(PAGE_ERROR + REDIRECTED, detail=str(exc)) from exc
        except (FetchError, DocumentError) as exc:
            raise InvalidRequest(f"{PAGE_ERROR}{exc}") from exc
        logo = await self.logo(found.logo_uri)
        return ClientMetadata(client_id, found.name, found.redirect_uris, logo, found.client_uri), lifetime(
            fetched.headers, now=int(self.clock())
        )

    async def logo(self, url: str | None) -> str | None:
        """The logo as a data: URL, fetched with the same guards, or None: a broken logo is no error."""
        if url is None:
            return None
        try:
            fetched = await self.fetcher.get(url, accept=", ".join(LOGO_TYPES), max_bytes=LOGO_BYTES, timeout=3.0)
        except FetchError:
            return None
        if fetched.content_type not in LOGO_TYPES:
            return None
        return f"data:{fetched.content_type};base64,{base64.b64encode(fetched.body).decode()}"


def lifetime(headers: httpx.Headers, *, now: int) -> int:
    """Seconds a page may be reused (RFC 9111 §4.2): no-store/no-cache → 0; else max-age, Expires, or a default."""
    directives = {
        name.strip().lower(): value.strip().strip('"')
        for name, _, value in (part.partition("=") for part in headers.get("cache-control", "").split(","))
    }
    if "no-store" in directives or "no-cache" in directives or "private" in directives:
        return 0
    for name in ("s-maxage", "max-age"):
        if re.fullmatch(r"\d{1,10}", directives.get(name, "")):
            return min(int(directives[name]), MAX_TTL)
    expires = headers.get("expires")
    if expires:
        try:
            parsed = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return 0  # RFC 9111 §5.3: an invalid Expires means already expired
        return max(0, min(int(parsed.timestamp()) - now, MAX_TTL))
    return DEFAULT_TTL
