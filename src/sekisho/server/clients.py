"""Resolve a client_id: a registered (X-style) client, or a URL client (Misskey/IndieAuth style)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.errors import InvalidClient, InvalidRequest
from sekisho.protocol import client_ids, tokens
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
) -> Client:
    """The client, or `invalid_client` with the given status (400 on the authorization endpoint).

    A URL client's page is fetched only when `fetch` is set (authorization); the token endpoint needs only its id
    (and authenticates a registered one with `authenticated`).
    """
    if client_id is None:
        raise InvalidRequest("client_id is required")
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClient("client_id is too long", status=status)
    if client_ids.is_url(client_id):
        return await url_clients.resolve(client_id) if fetch else url_clients.known(client_id, status=status)
    client = await store.clients.find(client_id)
    if client is None:
        raise InvalidClient("unknown client_id", detail=f"client_id={client_id!r}", status=status)
    return client


async def authenticated(client_id: str, secret: str | None, store: Store, url_clients: UrlClients) -> Client:
    """The client named at the token, introspection or revocation endpoint, checked against `secret` (RFC 6749
    §2.3.1); a registered one may be recalled from memory (`Clients.recall`), as the statements that follow re-check
    its registration."""
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClient("client_id is too long")
    if client_ids.is_url(client_id):
        client = url_clients.known(client_id, status=401)
    else:
        presented = None if secret is None else tokens.digest(secret)
        found = await store.clients.recall(client_id, presented)
        if found is None:
            raise InvalidClient("unknown client_id", detail=f"client_id={client_id!r}")
        client = found
    check_secret(client, secret)
    return client


def check_secret(client: Client, secret: str | None) -> None:
    if client.secret_digest is None:
        if secret is not None:
            raise InvalidClient("this client is public and has no secret; send client_id only")
        return
    if secret is None:
        raise InvalidClient("this client is confidential: authenticate with its client secret")
    if not tokens.digest_matches(secret, client.secret_digest):
        raise InvalidClient("client authentication failed", detail=f"wrong secret for {client.client_id}")


async def logo_of(client: Client, store: Store) -> str | None:
    """The logo a consent page shows (a data: URL, never hot-linked): a URL client's, fetched with its page, or the
    one a client that registered itself gave, fetched at registration; a client the operator added has none."""
    if client.logo is not None or not client.dynamic:
        return client.logo
    return await store.clients.logo(client.client_id)
