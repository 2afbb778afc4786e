"""The errors a redemption's refusal (store.Refused) gives the client, the revocation a replay earns, the resources
(RFC 8707) a token request may name, and the tokens a grant's first redemption issues."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NoReturn

from sekisho.errors import InvalidClient, InvalidGrant
from sekisho.protocol import resources
from sekisho.protocol.params import TokenRequest
from sekisho.server.entities import Client
from sekisho.server.events import security_event
from sekisho.server.settings import Settings
from sekisho.server.store import Refused
from sekisho.server.token import Issue

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext


async def refuse(
    refused: Refused, messages: Mapping[str, str], ctx: GrantContext, client: Client, *, event: str
) -> NoReturn:
    """Raise the error for `refused` (`messages`: the grant's descriptions by reason). A used code or refresh token
    that came back first ends its whole grant (RFC 6749 §4.1.2, RFC 9700 §4.14.2), once per request."""
    if refused.reason == "client_gone":
        # Removed (or registered again with another secret) since this process read it: RFC 6749 §5.2.
        raise InvalidClient("unknown client_id", detail=f"client_id={client.client_id!r} is no longer registered")
    if refused.reason == "replayed" and refused.grant_id is not None:
        await ctx.store.grants.revoke_grant(refused.grant_id, ctx.now)
        security_event(event, client_id=client.client_id, grant_id=refused.grant_id)
        raise InvalidGrant(messages["replayed"], detail=f"grant {refused.grant_id} revoked")
    raise InvalidGrant(messages[refused.reason])


def target(request: TokenRequest, settings: Settings) -> Callable[[str | None], str | None] | None:
    """RFC 8707 §2.2: when the request names resources, the access token's, from the grant's (which they must lie
    within; a grant made without `resource` is for the issuer alone), or `invalid_target`. None when it names none:
    the token is for the grant's resources."""
    if not request.resource:
        return None
    return lambda granted: resources.narrow(request.resource, granted, settings.issuer)


def first_tokens(request: TokenRequest, client: Client, ctx: GrantContext) -> Issue:
    """The tokens a new grant starts with (an authorization code's, an approved device code's): a new refresh token
    family, a refresh token when the client may use that grant and the dialect allows it, the access token for the
    resources asked for (RFC 8707) and bound to the DPoP key, and a public client's refresh token bound too
    (RFC 9449 §5)."""
    dialect = ctx.dialect
    return Issue(
        ctx.settings,
        ctx.now,
        client.client_id,
        refresh="refresh_token" in client.grant_types,
        new_family=True,
        signer=ctx.signer,
        refresh_if=None if dialect.refresh_needs_scope is None else dialect.may_refresh,
        target=target(request, ctx.settings),
        ttl=dialect.access_token_ttl,
        jkt=ctx.jkt,
        bind_refresh=client.is_public,
    )
