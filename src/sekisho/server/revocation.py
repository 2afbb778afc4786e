"""Token revocation (RFC 7009): a refresh token ends its grant family; an access token ends itself."""

from __future__ import annotations

from collections.abc import Mapping

from sekisho.protocol import tokens
from sekisho.protocol.params import require
from sekisho.server.entities import Client
from sekisho.server.introspection import may_handle
from sekisho.server.store import Store


async def revoke(params: Mapping[str, str], client: Client, store: Store, now: int) -> None:
    """RFC 7009 §2.2: unknown tokens, and tokens of other clients, are answered with 200 all the same.

    A client revokes its own tokens; a designated resource server may revoke any.
    """
    token = require(params.get("token"), "token")
    digest = tokens.digest(token)
    # The hint only orders the look-ups (RFC 7009 §2.1); an unknown hint is ignored.
    if params.get("token_type_hint") == "access_token" or token.startswith(tokens.ACCESS_TOKEN):
        if await _revoke_access(digest, client, store, now):
            return
        await _revoke_refresh(digest, client, store, now)
        return
    if not await _revoke_refresh(digest, client, store, now):
        await _revoke_access(digest, client, store, now)


async def _revoke_refresh(digest: str, client: Client, store: Store, now: int) -> bool:
    found = await store.grants.find_refresh_token(digest)
    if found is None or not may_handle(client, found.client_id):
        return False
    await store.grants.revoke_grant(found.grant_id, now)
    return True


async def _revoke_access(digest: str, client: Client, store: Store, now: int) -> bool:
    found = await store.grants.find_access_token(digest, now)
    if found is None or not may_handle(client, found.client_id):
        return False
    await store.grants.revoke_access_token(digest, now)
    return True
