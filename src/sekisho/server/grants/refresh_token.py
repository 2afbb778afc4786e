"""The refresh_token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2): find the refresh
token, check it, consume it and issue its successors, once, in one store call (`Grants.rotate_refresh_token`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.protocol import tokens
from sekisho.protocol.params import TokenRequest, require
from sekisho.protocol.scopes import check_narrowing, join_scope, split_scope
from sekisho.server.entities import Client
from sekisho.server.grants.guards import refuse, target
from sekisho.server.store import RefreshAsk, Refused
from sekisho.server.token import Issue, Minted

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext

REFUSALS = {
    "unknown": "the refresh token is not valid",
    "other_client": "the refresh token was issued to another client",
    "replayed": "the refresh token was already used",
    "revoked": "the refresh token has been revoked",
    "expired": "the refresh token has expired",
    "dpop_key": "the refresh token is bound to a DPoP key this request's proof is not made with",
}


async def refresh(request: TokenRequest, client: Client, ctx: GrantContext) -> Minted:
    digest = tokens.digest(require(request.refresh_token, "refresh_token"))
    asked = request.scope

    def narrow(granted: str) -> str:
        """RFC 6749 §6: the scope asked for, which must lie within the grant's."""
        return join_scope(check_narrowing(asked, split_scope(granted)))

    issue = Issue(
        ctx.settings,
        ctx.now,
        client.client_id,
        refresh=True,
        new_family=False,
        signer=ctx.signer,
        narrow=None if asked is None else narrow,
        target=target(request, ctx.settings),  # RFC 8707 §2.2: may narrow, never widen
        ttl=ctx.dialect.access_token_ttl,
        jkt=ctx.jkt,
        bind_refresh=client.is_public,  # RFC 9449 §5: a public client's refresh token is bound to its key
    )
    outcome = await ctx.store.grants.rotate_refresh_token(RefreshAsk(digest, client, ctx.now, ctx.jkt), issue)
    if isinstance(outcome, Refused):
        await refuse(outcome, REFUSALS, ctx, client, event="refresh_token_reuse")
    return issue.minted(outcome.tokens)
