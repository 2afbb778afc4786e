"""The device_code grant (RFC 8628 §3.4-3.5): find the device code, check it, consume it and issue tokens, once,
in one store call (`Devices.poll`); until the person decides, the answer says to poll again (or more slowly)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from sekisho.errors import AccessDenied, AuthorizationPending, ExpiredToken, InvalidClient, InvalidGrant, SlowDown
from sekisho.protocol import tokens
from sekisho.protocol.metadata import DEVICE_CODE_GRANT
from sekisho.protocol.params import TokenRequest, require
from sekisho.server.entities import Client
from sekisho.server.grants.guards import first_tokens
from sekisho.server.store import DeviceAsk, Refused
from sekisho.server.token import Minted

GRANT_TYPE = DEVICE_CODE_GRANT

if TYPE_CHECKING:
    from sekisho.server.grants import GrantContext


async def exchange(request: TokenRequest, client: Client, ctx: GrantContext) -> Minted:
    digest = tokens.digest(require(request.device_code, "device_code"))
    issue = first_tokens(request, client, ctx)  # as the code grant gives them
    outcome = await ctx.store.devices.poll(DeviceAsk(digest, client, ctx.now), issue)
    if isinstance(outcome, Refused):
        refuse(outcome, client)
    return issue.minted(outcome.tokens)


def refuse(refused: Refused, client: Client) -> NoReturn:
    """RFC 8628 §3.5's answers (all status 400, RFC 6749 §5.2)."""
    match refused.reason:
        case "pending":
            raise AuthorizationPending("the user has not yet approved this device; poll again after the interval")
        case "slow_down":
            raise SlowDown("polled sooner than the interval; the interval is now 5 seconds longer")
        case "denied":
            raise AccessDenied("the user denied the request", status=400)
        case "expired":
            raise ExpiredToken("the device code has expired; start again")
        case "client_gone":
            raise InvalidClient("unknown client_id", detail=f"client_id={client.client_id!r} is no longer registered")
        case "other_client":
            raise InvalidGrant("the device code was issued to another client")
        case "replayed":
            raise InvalidGrant("the device code was already used", detail=f"grant {refused.grant_id}")
        case _:
            raise InvalidGrant("the device code is not valid")
