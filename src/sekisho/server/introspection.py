"""Token introspection (RFC 7662): `active: false` and nothing else for anything not valid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sekisho.errors import InvalidClient
from sekisho.protocol import tokens
from sekisho.protocol.params import require
from sekisho.server.entities import Client
from sekisho.server.store import Store

INACTIVE: dict[str, Any] = {"active": False}


async def introspect(params: Mapping[str, str], caller: Client, store: Store, issuer: str, now: int) -> dict[str, Any]:
    # RFC 7662 §2.1: the caller must be authorised; here, any confidential client (a resource server).
    if caller.is_public:
        raise InvalidClient("introspection needs a confidential client that authenticates with its secret")
    token = require(params.get("token"), "token")
    digest = tokens.digest(token)
    if token.startswith(tokens.REFRESH_TOKEN):
        return await _refresh(digest, store, issuer, now)
    access = await store.find_access_token(digest, now)
    if access is None:
        return INACTIVE
    body: dict[str, Any] = {
        "active": True,
        "scope": access.scope,
        "client_id": access.client_id,
        "token_type": "Bearer",
        "exp": access.expires_at,
        "iat": access.created_at,
        "iss": issuer,
    }
    return await _with_user(body, access.user_id, store)


async def _refresh(digest: str, store: Store, issuer: str, now: int) -> dict[str, Any]:
    found = await store.find_refresh_token(digest)
    if found is None or found.consumed_at is not None or found.revoked_at is not None or found.expires_at <= now:
        return INACTIVE
    body: dict[str, Any] = {
        "active": True,
        "scope": found.scope,
        "client_id": found.client_id,
        "token_type": "refresh_token",
        "exp": found.expires_at,
        "iat": found.created_at,
        "iss": issuer,
    }
    return await _with_user(body, found.user_id, store)


async def _with_user(body: dict[str, Any], user_id: str | None, store: Store) -> dict[str, Any]:
    user = await store.find_user(user_id) if user_id else None
    if user_id and user is None:
        return INACTIVE
    if user is not None:
        body["sub"] = user.id
        body["username"] = user.username
    return body
