"""Per-address limits on the requests anyone may make without signing in: dynamic registrations, device
authorizations and pushed authorization requests, each counted in windows of its own (docs/security.md).

A request is counted before anything else is done for it, in the store (`Throttle.reserve`), atomically with every
other request on the same key from any server on the database, so a parallel burst gets exactly the limit and the
rest 429 with Retry-After. A refused request is not counted; the address is the peer's, or the client's as a
`--trusted-proxy` tells it (web/proxies.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sekisho.errors import TooManyRequests
from sekisho.server.entities import LoginAttempts, Reservation
from sekisho.server.events import security_event
from sekisho.server.store import Store


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A kind of request limited per address: its throttle key prefix, the window (seconds) it is counted in, what
    the refusal calls it, and the security event a refusal logs."""

    key: str
    window: int
    requests: str
    event: str


REGISTRATIONS = RateLimit("register", 3600, "registrations", "registration_throttled")
DEVICE_AUTHORIZATIONS = RateLimit("device_authorization", 60, "device authorizations", "device_authorization_throttled")
PUSHED_REQUESTS = RateLimit("par", 60, "pushed authorization requests", "pushed_request_throttled")


def judge(limit: RateLimit, allowed: int, found: LoginAttempts, now: int) -> Reservation:
    """At most `allowed` requests per window: a row holds the count and its window's start (`last_at`), and is kept
    (`blocked_until`) until its window ends."""
    fresh = found.failures == 0 or found.last_at <= now - limit.window
    count, start = (0, now) if fresh else (found.failures, found.last_at)
    if count >= allowed:
        return Reservation(retry_after=max(1, start + limit.window - now), delay=0)
    return Reservation(retry_after=0, delay=0, account=LoginAttempts(count + 1, start, start + limit.window))


async def count(store: Store, limit: RateLimit, allowed: int, address: str, now: int) -> None:
    """Count a request of `limit`'s kind from `address`, atomically with every other one, or refuse it with 429."""
    key = f"{limit.key}:{address[:64]}"
    reservation = await store.throttle.reserve(key, key, now, lambda found, _: judge(limit, allowed, found, now))
    if reservation.retry_after > 0:
        wait = reservation.retry_after
        security_event(limit.event, address=address, retry_after=wait)
        description = f"too many {limit.requests} from this address; try again in {wait} seconds"
        raise TooManyRequests(description, retry_after=wait)
