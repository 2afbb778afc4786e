"""Token introspection (RFC 7662): `active: false` and nothing else for anything not valid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sekisho.errors import InvalidClient
from sekisho.protocol import resources, tokens
from sekisho.protocol.params import require
from sekisho.server.entities import AccessToken, Client, RefreshToken
from sekisho.server.store import Store

INACTIVE: dict[str, Any] = {"active": False}


def may_handle(caller: Client, token_client_id: str) -> bool:
    """Whether `caller` may introspect or revoke a token issued to `token_client_id`."""
    return caller.client_id == token_client_id or caller.resource_server


async def introspect(params: Mapping[str, str], caller: Client, store: Store, issuer: str, now: int) -> dict[str, Any]:
    """RFC 7662 §2.1: a confidential client may introspect its own tokens; a designated resource server, any.

    The caller may come from memory: the token's lookup re-checks, in the same statement, that it is still
    registered with the secret it showed, and a caller removed meanwhile is `invalid_client`.
    """
    if caller.is_public:
        raise InvalidClient("introspection needs a confidential client that authenticates with its secret")
    token = require(params.get("token"), "token")
    digest = tokens.digest(token)
    found: AccessToken | RefreshToken | None
    if token.startswith(tokens.REFRESH_TOKEN):
        current, refresh = await store.grants.inspect_refresh_token(digest, caller)
        found = refresh if refresh is not None and _alive(refresh, now) else None
        token_type = "refresh_token"
    else:
        current, found = await store.grants.inspect_access_token(digest, now, caller)  # neither expired nor revoked
        token_type = "Bearer"
    if not current:
        raise InvalidClient("unknown client_id", detail=f"client_id={caller.client_id!r} is no longer registered")
    if found is None:
        return INACTIVE
    if not may_handle(caller, found.client_id):
        return INACTIVE  # RFC 7662 §4: say nothing of tokens the caller may not see
    body: dict[str, Any] = {
        "active": True,
        "scope": found.scope,
        "client_id": found.client_id,
        # RFC 9449 §6.2: a bound access token is of type DPoP, and `cnf.jkt` names its key
        "token_type": "DPoP" if found.jkt is not None and token_type == "Bearer" else token_type,
        "exp": found.expires_at,
        "iat": found.created_at,
        "iss": issuer,
    }
    if found.jkt is not None:
        body["cnf"] = {"jkt": found.jkt}
    if found.resource is not None:  # RFC 8707: issued for resources, which are its audience (as a JWT's `aud`)
        audience = resources.audience(found.resource, issuer)
        body["aud"] = audience if isinstance(audience, str) else list(audience)
    if found.user_id is None:
        return body
    user = await store.users.find(found.user_id)
    if user is None:
        return INACTIVE
    return body | {"sub": user.id, "username": user.username}


def _alive(refresh: RefreshToken, now: int) -> bool:
    """A refresh token that can still be used: neither rotated away, revoked nor expired."""
    return refresh.consumed_at is None and refresh.revoked_at is None and refresh.expires_at > now
