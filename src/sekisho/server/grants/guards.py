"""What the grants share around their one write, which re-checks a client and signing key from memory (see Store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.errors import TemporarilyUnavailable
from sekisho.server.events import security_event

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext


class RegistrationChanged(TemporarilyUnavailable):
    """The client was removed, or the signing key rotated, while the request used it: nothing was written.

    Raised too, from memory (`GrantContext.remembered`), for a replay: only the database may decide to revoke. The
    token endpoint tries once more from the database (where a removed client is `invalid_client`); a second change
    within that one request is a 503, and the client retries.
    """

    def __init__(self, client_id: str) -> None:
        super().__init__("the client or the signing key changed meanwhile; try again", detail=f"client {client_id}")


async def revoke_replayed(ctx: GrantContext, grant_id: str, *, event: str, client_id: str) -> None:
    """A used code or refresh token came back: end its whole grant (RFC 6749 §4.1.2, RFC 9700 §4.14.2).

    Decided from the database only, so that the grant is revoked, and the event logged, once per request.
    """
    if ctx.remembered:
        raise RegistrationChanged(client_id)
    await ctx.store.revoke_grant(grant_id, ctx.now)
    security_event(event, client_id=client_id, grant_id=grant_id)
