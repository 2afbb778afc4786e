"""The client_credentials grant (RFC 6749 §4.4): a confidential client acting for itself; no refresh token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.errors import InvalidClient, UnauthorizedClient
from sekisho.protocol import resources
from sekisho.protocol.params import TokenRequest
from sekisho.protocol.scopes import check_scope, join_scope
from sekisho.server.entities import Client
from sekisho.server.token import Minted, mint

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext


async def issue(request: TokenRequest, client: Client, ctx: GrantContext) -> Minted:
    # RFC 6749 §4.4: only for confidential clients (authenticated by now).
    if client.is_public:
        raise UnauthorizedClient("the client_credentials grant needs a confidential client")
    scope = check_scope(request.scope, known=ctx.settings.scopes, allowed=client.scopes, default=client.scopes or ())
    # RFC 8707 §2: the resources it may name; none, the server's default audience
    resource = resources.check_resources(request.resource, ctx.settings.allowed_resources(client.resources))
    # RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
    minted = await mint(
        ctx.settings,
        grant_id=None,
        client_id=client.client_id,
        user_id=None,
        scope=join_scope(scope),
        now=ctx.now,
        signer=ctx.signer,
        resource=resources.join(resource),
        jkt=ctx.jkt,
    )
    # The client may come from memory: the insert checks it is still registered with the same secret.
    if not await ctx.store.grants.issue_client_token(minted.records.access, client):
        raise InvalidClient("unknown client_id", detail=f"client_id={client.client_id!r} is no longer registered")
    return minted
