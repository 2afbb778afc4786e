"""The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.errors import InvalidGrant
from sekisho.protocol import pkce, tokens
from sekisho.protocol.params import TokenRequest, require
from sekisho.server.entities import AuthorizationCode, Client
from sekisho.server.grants.guards import RegistrationChanged, revoke_replayed
from sekisho.server.token import Minted, draw, mint

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext


async def exchange(request: TokenRequest, client: Client, ctx: GrantContext) -> Minted:
    code_value = require(request.code, "code")
    redirect_uri = require(request.redirect_uri, "redirect_uri")
    digest = tokens.digest(code_value)
    challenge = pkce.challenge_of(request.code_verifier)
    if challenge is not None and ctx.signer is None:  # the common case in one statement (Store, "unread")
        drawn = draw(ctx.settings, ctx.now, refresh="refresh_token" in client.grant_types, new_family=True)
        written = await ctx.store.redeem_code_unread(digest, redirect_uri, challenge, drawn.successors, ctx.now, client)
        if written is not None:
            return drawn.minted(written)
    # A JWT needs the code read first; and when the one-statement exchange wrote nothing, this reads the code to
    # tell the client what is wrong (a wrong verifier leaves the code unused), or finds nothing wrong after all.
    code = await find_unused(digest, client, ctx)
    check_code(code, redirect_uri, ctx.now)
    pkce.check_verifier(request.code_verifier, code.code_challenge)
    minted = await mint(
        ctx.settings,
        grant_id=code.grant_id,
        client_id=client.client_id,
        user_id=code.user_id,
        scope=code.scope,
        now=ctx.now,
        refresh_scope=code.scope if "refresh_token" in client.grant_types else None,
        signer=ctx.signer,
    )
    if not await ctx.store.redeem_code(digest, minted.records, ctx.now, client, ctx.kid):
        # Another exchange won the race (a replay, which revokes what the winner got: RFC 6749 §4.1.2), or the
        # client or the signing key changed: the code, read again, tells.
        await find_unused(digest, client, ctx)
        raise RegistrationChanged(client.client_id)
    return minted


async def find_unused(digest: str, client: Client, ctx: GrantContext) -> AuthorizationCode:
    code = await ctx.store.find_code(digest)
    if code is None:
        raise InvalidGrant("the authorization code is not valid")
    # RFC 6749 §4.1.3: the code must be this client's. Checked before the replay test, so another client cannot end
    # the owner's grant by presenting a used code it saw somewhere (a log, a Referer): refused, nothing revoked.
    check_client(code, client)
    if code.consumed_at is not None:
        await revoke_replayed(ctx, code.grant_id, event="authorization_code_replay", client_id=client.client_id)
        raise InvalidGrant("the authorization code was already used", detail=f"grant {code.grant_id} revoked")
    return code


def check_code(code: AuthorizationCode, redirect_uri: str, now: int) -> None:
    if code.expires_at <= now:
        raise InvalidGrant("the authorization code has expired")
    # RFC 6749 §4.1.3: redirect_uri must be identical to the one in the authorization request.
    if redirect_uri != code.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the one in the authorization request")


def check_client(code: AuthorizationCode, client: Client) -> None:
    if code.client_id != client.client_id:
        raise InvalidGrant("the authorization code was issued to another client")
