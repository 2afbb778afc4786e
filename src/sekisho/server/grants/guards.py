"""The errors a redemption's refusal (store.Refused) gives the client, and the revocation a replay earns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NoReturn

from sekisho.errors import InvalidClient, InvalidGrant
from sekisho.server.entities import Client
from sekisho.server.events import security_event
from sekisho.server.store import Refused

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
