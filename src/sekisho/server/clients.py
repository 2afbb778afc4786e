"""Resolve a client_id to a client: a registered client (URL client ids come with their own issue)."""

from __future__ import annotations

from sekisho.errors import InvalidClient, InvalidRequest
from sekisho.server.entities import Client
from sekisho.server.store import Store

MAX_CLIENT_ID_LENGTH = 2048


async def resolve(client_id: str | None, store: Store, *, status: int = 401) -> Client:
    """The client, or `invalid_client` with the given status (400 on the authorization endpoint)."""
    if client_id is None:
        raise InvalidRequest("client_id is required")
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClient("client_id is too long", status=status)
    client = await store.find_client(client_id)
    if client is None:
        raise InvalidClient("unknown client_id", detail=f"client_id={client_id!r}", status=status)
    return client
