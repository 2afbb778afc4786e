"""Resolve a client_id: a registered (X-style) client, or a URL client (Misskey/IndieAuth style)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.errors import InvalidClient, InvalidRequest
from sekisho.protocol import client_ids
from sekisho.server.entities import Client
from sekisho.server.store import Store

if TYPE_CHECKING:
    from sekisho.server.url_clients import UrlClients

MAX_CLIENT_ID_LENGTH = 2048


async def resolve(
    client_id: str | None,
    store: Store,
    url_clients: UrlClients,
    *,
    fetch: bool = False,
    status: int = 401,
    remembered: bool = False,
) -> Client:
    """The client, or `invalid_client` with the given status (400 on the authorization endpoint).

    A URL client's page is fetched only when `fetch` is set (authorization); the token endpoint needs only its id.
    `remembered`: a registered client may come from memory (see `Store.find_client`).
    """
    if client_id is None:
        raise InvalidRequest("client_id is required")
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClient("client_id is too long", status=status)
    if client_ids.is_url(client_id):
        return await url_clients.resolve(client_id) if fetch else url_clients.known(client_id, status=status)
    client = await store.find_client(client_id, remembered=remembered)
    if client is None:
        raise InvalidClient("unknown client_id", detail=f"client_id={client_id!r}", status=status)
    return client
