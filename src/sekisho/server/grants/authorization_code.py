"""The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): find the code, check it, consume it and issue
tokens, once, in one store call (`Grants.redeem_code`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from sekisho.errors import InvalidGrant
from sekisho.protocol import pkce, tokens
from sekisho.protocol.params import TokenRequest, require
from sekisho.server.entities import Client
from sekisho.server.grants.guards import first_tokens, refuse
from sekisho.server.store import CodeAsk, Refused
from sekisho.server.token import Minted

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext

REFUSALS = {
    "unknown": "the authorization code is not valid",
    "other_client": "the authorization code was issued to another client",
    "replayed": "the authorization code was already used",
    "expired": "the authorization code has expired",
    "redirect_uri": "redirect_uri differs from the one in the authorization request",
    "dpop_key": "the authorization code is bound to another DPoP key (dpop_jkt)",
}


async def exchange(request: TokenRequest, client: Client, ctx: GrantContext) -> Minted:
    digest = tokens.digest(require(request.code, "code"))
    redirect_uri = require(request.redirect_uri, "redirect_uri")
    ask = CodeAsk(digest, client, redirect_uri, pkce.challenge_of(request.code_verifier), ctx.now, ctx.jkt)
    issue = first_tokens(request, client, ctx)
    outcome = await ctx.store.grants.redeem_code(ask, issue)
    if isinstance(outcome, Refused):
        await refuse_code(outcome, request, client, ctx)
    return issue.minted(outcome.tokens)


async def refuse_code(refused: Refused, request: TokenRequest, client: Client, ctx: GrantContext) -> NoReturn:
    """Raise the error for `refused`; a replay first ends the code's grant (RFC 6749 §4.1.2)."""
    if refused.reason == "verifier":
        pkce.check_verifier(request.code_verifier, "")  # a missing or malformed verifier: invalid_request
        raise InvalidGrant("code_verifier does not match the code_challenge")
    await refuse(refused, REFUSALS, ctx, client, event="authorization_code_replay")
