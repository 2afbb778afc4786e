"""Client authentication at the token endpoint: client_secret_basic, client_secret_post, none (RFC 6749 §2.3)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from sekisho.errors import InvalidClient, InvalidRequest
from sekisho.protocol.credentials import parse_basic
from sekisho.server import clients
from sekisho.server.entities import Client
from sekisho.server.store import Store
from sekisho.server.url_clients import UrlClients


async def authenticate(
    authorization: str | None,
    params: Mapping[str, str],
    store: Store,
    url_clients: UrlClients,
    *,
    same_secret_twice: bool = False,
) -> Client:
    """The authenticated client, or raise `invalid_client` (401) / `invalid_request`; `same_secret_twice`: a body
    `client_secret` equal to the Basic one is let through (X's dialect: X takes it, and twitter-api-v2 sends both)."""
    basic = parse_basic(authorization) if authorization else None
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if basic and body_secret is not None:
        if not (same_secret_twice and hmac.compare_digest(body_secret.encode(), basic[1].encode())):
            # RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
            raise InvalidRequest("send the client secret either in the Authorization header or in the body, not both")
        body_secret = None
    if basic and body_id is not None and body_id != basic[0]:
        raise InvalidRequest("client_id in the body differs from the one in the Authorization header")
    client_id, secret = basic if basic else (body_id, body_secret)
    if client_id is None:
        raise InvalidClient("client authentication is required: send client_id (and a secret if you have one)")
    return await clients.authenticated(client_id, secret or None, store, url_clients)
