"""The device authorization grant's server side (RFC 8628): start an authorization for a client, find it by the
user code a person enters (entries throttled), and record the person's decision."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sekisho.errors import ServerError, UnauthorizedClient
from sekisho.protocol import resources, tokens
from sekisho.protocol.device import USER_CODE_ALPHABET, USER_CODE_LENGTH
from sekisho.protocol.metadata import DEVICE_CODE_GRANT
from sekisho.protocol.scopes import check_scope, join_scope
from sekisho.server.entities import Client, DeviceCode, Grant, Reservation, User
from sekisho.server.ids import new_id
from sekisho.server.store import Store
from sekisho.server.throttle import ADDRESS_MAX_DELAY, MAX_DELAY, backoff, judge

EXPIRES_IN = 600  # seconds a device code lives (RFC 8628 §3.2 expires_in)
INTERVAL = 5  # seconds between polls (RFC 8628 §3.2 interval; its default too)
DRAWS = 5  # user codes drawn before giving up (one clash among live codes is already rare)
# Entries of a user code, counted per account and per address in the throttle's window (a wrong code and a right
# one alike, so a known code cannot reset the count). The account: free ones, then refused for a minute, two, four …
# up to the throttle's longest block. The address: free ones, then each paused as a login is, never refused (people
# behind one proxy share it: docs/security.md, "The per-address trade-off").
ACCOUNT_FREE_ENTRIES = 10
ADDRESS_FREE_ENTRIES = 30
FIRST_BLOCK = 60


def _block(free: int) -> Callable[[int], int]:
    delay = backoff(free)

    def block(entries: int) -> int:
        """No block for the first `free` entries, then FIRST_BLOCK seconds, doubling up to MAX_DELAY."""
        return min(FIRST_BLOCK * delay(entries), MAX_DELAY)

    return block


_ACCOUNT_BLOCK = _block(ACCOUNT_FREE_ENTRIES)
_ADDRESS_DELAY = backoff(ADDRESS_FREE_ENTRIES, ADDRESS_MAX_DELAY)


@dataclass(frozen=True, slots=True)
class Started:
    """A new device authorization: the device code to hand out once, and its user code (normalized)."""

    device_code: str = field(repr=False)
    user_code: str
    expires_in: int
    interval: int


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


async def start(
    store: Store,
    client: Client,
    scope: str | None,
    known_scopes: Mapping[str, str],
    now: int,
    *,
    resource: Sequence[str] = (),
    allowed_resources: Collection[str] = (),
) -> Started:
    """RFC 8628 §3.1-3.2 for an authenticated client allowed the grant; scope checked as at /authorize, and the
    resources asked for (RFC 8707) among `allowed_resources`, or `invalid_target`."""
    if DEVICE_CODE_GRANT not in client.grant_types:
        raise UnauthorizedClient("this client may not use the device authorization grant")
    granted = join_scope(check_scope(scope, known=known_scopes, allowed=client.scopes, default=client.scopes or ()))
    targets = resources.join(resources.check_resources(resource, allowed_resources))
    device_code = tokens.new_secret(tokens.DEVICE_CODE)
    for _ in range(DRAWS):
        user_code = new_user_code()
        device = DeviceCode(
            digest=tokens.digest(device_code),
            user_code=user_code,
            client_id=client.client_id,
            scope=granted,
            created_at=now,
            expires_at=now + EXPIRES_IN,
            interval=INTERVAL,
            resource=targets,
        )
        if await store.devices.add(device, now):
            return Started(device_code, user_code, EXPIRES_IN, INTERVAL)
    raise ServerError("no free user code could be drawn", detail=f"{DRAWS} clashes in a row")


async def reserve_entry(store: Store, user: User, address: str, now: int) -> Reservation:
    """Count this entry of a user code before it is looked up, or refuse it (`throttle.judge`, with the rules
    above)."""
    keys = f"device:user:{user.id}", f"device:addr:{address[:64]}"
    return await store.throttle.reserve(
        *keys,
        now,
        lambda account, addr: judge(account, addr, now, account_block=_ACCOUNT_BLOCK, address_delay=_ADDRESS_DELAY),
    )


async def decide(store: Store, device: DeviceCode, user: User, *, allowed: bool, now: int) -> bool:
    """Approve (a new grant, shown under the user's connected apps) or deny; False if it was decided or expired
    meanwhile."""
    grant = None
    if allowed:
        grant = Grant(
            id=new_id(now * 1000), user_id=user.id, client_id=device.client_id, scope=device.scope, created_at=now
        )
    return await store.devices.decide(device.user_code, now, grant)
