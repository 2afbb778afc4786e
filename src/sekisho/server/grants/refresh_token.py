"""The refresh_token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.errors import InvalidGrant
from sekisho.protocol import tokens
from sekisho.protocol.params import TokenRequest, require
from sekisho.protocol.scopes import check_narrowing, join_scope, split_scope
from sekisho.server.entities import Client, RefreshToken
from sekisho.server.grants.guards import RegistrationChanged, revoke_replayed
from sekisho.server.token import Minted, draw, mint

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext


async def refresh(request: TokenRequest, client: Client, ctx: GrantContext) -> Minted:
    digest = tokens.digest(require(request.refresh_token, "refresh_token"))
    if request.scope is None and ctx.signer is None:  # the common case in one statement (Store, "unread")
        drawn = draw(ctx.settings, ctx.now, refresh=True, new_family=False)
        written = await ctx.store.rotate_refresh_token_unread(digest, drawn.successors, ctx.now, client)
        if written is not None:
            return drawn.minted(written)
    # A narrower scope or a JWT needs the token read first; and when the one-statement rotation wrote nothing, this
    # reads the token to tell the client what is wrong (or finds nothing wrong and rotates after all).
    token = await find_usable(digest, client, ctx)
    scope = check_narrowing(request.scope, split_scope(token.scope))
    minted = await mint(
        ctx.settings,
        grant_id=token.grant_id,
        client_id=client.client_id,
        user_id=token.user_id,
        scope=join_scope(scope),
        now=ctx.now,
        refresh_scope=token.scope,
        absolute_expires_at=token.absolute_expires_at,
        signer=ctx.signer,
    )
    if not await ctx.store.rotate_refresh_token(digest, minted.records, ctx.now, client, ctx.kid):
        # Used (or revoked) meanwhile, or the client or the signing key changed: the token, read again, tells.
        await find_usable(digest, client, ctx)
        raise RegistrationChanged(client.client_id)
    return minted


async def find_usable(digest: str, client: Client, ctx: GrantContext) -> RefreshToken:
    token = await ctx.store.find_refresh_token(digest)
    if token is None:
        raise InvalidGrant("the refresh token is not valid")
    if token.client_id != client.client_id:
        raise InvalidGrant("the refresh token was issued to another client")
    if token.consumed_at is not None:
        await revoke_replayed(ctx, token.grant_id, event="refresh_token_reuse", client_id=client.client_id)
        raise InvalidGrant("the refresh token was already used", detail=f"reuse: grant {token.grant_id} revoked")
    check_alive(token, ctx.now)
    return token


def check_alive(token: RefreshToken, now: int) -> None:
    if token.revoked_at is not None:
        raise InvalidGrant("the refresh token has been revoked")
    if token.expires_at <= now:
        raise InvalidGrant("the refresh token has expired")
