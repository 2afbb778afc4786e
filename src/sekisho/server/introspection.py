"""Token introspection (RFC 7662): `active: false` and nothing else for anything not valid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

from sekisho.errors import InvalidClient
from sekisho.protocol import tokens
from sekisho.protocol.params import require
from sekisho.server.entities import AccessToken, Client, RefreshToken
from sekisho.server.store import Store

INACTIVE: dict[str, Any] = {"active": False}


def may_handle(caller: Client, token_client_id: str) -> bool:
    """Whether `caller` may introspect or revoke a token issued to `token_client_id`."""
    return caller.client_id == token_client_id or caller.resource_server


@overload
async def introspect(
    params: Mapping[str, str], caller: Client, store: Store, issuer: str, now: int
) -> dict[str, Any]: ...
@overload
async def introspect(
    params: Mapping[str, str], caller: Client, store: Store, issuer: str, now: int, *, confirm: bool
) -> dict[str, Any] | None: ...
async def introspect(
    params: Mapping[str, str], caller: Client, store: Store, issuer: str, now: int, *, confirm: bool = False
) -> dict[str, Any] | None:
    """RFC 7662 §2.1: a confidential client may introspect its own tokens; a designated resource server, any.

    `confirm`: the caller may come from memory; answer only for an active access token whose lookup confirms the
    caller is still registered, else None (ask again with `confirm=False`).
    """
    if caller.is_public:
        raise InvalidClient("introspection needs a confidential client that authenticates with its secret")
    token = require(params.get("token"), "token")
    digest = tokens.digest(token)
    found: AccessToken | RefreshToken | None
    if confirm:
        found = None if token.startswith(tokens.REFRESH_TOKEN) else await store.find_access_token(digest, now, caller)
        if found is None or not may_handle(caller, found.client_id):
            return None
        token_type = "Bearer"
    elif token.startswith(tokens.REFRESH_TOKEN):
        found = await store.find_refresh_token(digest)
        if found is None or found.consumed_at is not None or found.revoked_at is not None or found.expires_at <= now:
            return INACTIVE
        token_type = "refresh_token"
    else:
        found = await store.find_access_token(digest, now)  # only tokens neither expired nor revoked
        if found is None:
            return INACTIVE
        token_type = "Bearer"
    if not may_handle(caller, found.client_id):
        return INACTIVE  # RFC 7662 §4: say nothing of tokens the caller may not see
    body: dict[str, Any] = {
        "active": True,
        "scope": found.scope,
        "client_id": found.client_id,
        "token_type": token_type,
        "exp": found.expires_at,
        "iat": found.created_at,
        "iss": issuer,
    }
    if found.user_id is None:
        return body
    user = await store.find_user(found.user_id)
    if user is None:
        return INACTIVE
    return body | {"sub": user.id, "username": user.username}
