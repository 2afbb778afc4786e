"""Purging what is past its use — expired codes, tokens, sessions, cached client pages, MiAuth sessions, device
codes, pushed authorization requests, DPoP proofs too old to be accepted again, stale login throttles, revoked
grants with no token left, spent initial access tokens and dynamically registered clients with no grant left — in
bounded batches, so no table grows without bound (Hydra #1574).

Run by the server on a timer (`run_periodically`, started in the app's lifespan) and by `sekisho purge`. Deleting is
idempotent, so several servers purging one database at once do no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from sekisho.server.store import Store
from sekisho.server.throttle import WINDOW

log = logging.getLogger("sekisho")

BATCH = 1000  # rows per statement: short transactions that never hold locks for long
PAUSE = 0.01  # seconds between batches, so that a large purge leaves room for requests
INTERVAL = 600  # seconds between the server's own purges
CODE_REPLAY_WINDOW = 24 * 3600  # a replayed code still revokes what it gave for this long after it expired
GRANT_RETENTION = 24 * 3600  # a revoked grant stays listed this long, then goes once no token of it is left
DYNAMIC_CLIENT_RETENTION = 24 * 3600  # `serve --registration-purge-after`'s default


def cutoffs(now: int, dynamic_clients: int = DYNAMIC_CLIENT_RETENTION) -> dict[str, int]:
    """For each kind of row, the time before which it is past its use; a dynamically registered client with no
    grant is past its use `dynamic_clients` seconds after it registered."""
    return {
        "authorization_codes": now - CODE_REPLAY_WINDOW,
        "access_tokens": now,
        "refresh_tokens": now,
        "sessions": now,
        "url_clients": now,
        "miauth_sessions": now,
        "device_codes": now,
        "pushed_requests": now,
        "dpop_proofs": now,
        "login_throttles": now - WINDOW,
        "grants": now - GRANT_RETENTION,
        "registration_tokens": now,
        "dynamic_clients": now - dynamic_clients,
    }


async def purge(
    store: Store,
    now: int,
    *,
    batch: int = BATCH,
    pause: float = PAUSE,
    dynamic_clients: int = DYNAMIC_CLIENT_RETENTION,
) -> dict[str, int]:
    """Delete everything past its use; how many rows went from each table."""
    removed: dict[str, int] = {}
    # grants after tokens: tokens go first, then the grants they kept; dynamic clients after the grants
    for table, cutoff in cutoffs(now, dynamic_clients).items():
        removed[table] = 0
        while True:
            count = await store.purge_batch(table, cutoff=cutoff, now=now, batch=batch)
            removed[table] += count
            if count < batch:
                break
            await asyncio.sleep(pause)
    return removed


async def run_periodically(
    store: Store,
    clock: Callable[[], float],
    interval: float = INTERVAL,
    dynamic_clients: int = DYNAMIC_CLIENT_RETENTION,
) -> None:
    """The server's purge loop: every `interval` seconds; a failure is logged and tried again next time."""
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await purge(store, int(clock()), dynamic_clients=dynamic_clients)
        except Exception as error:  # the database may be down: the next round tries again
            log.warning("purge failed: %s: %s", type(error).__name__, error)
            continue
        if any(removed.values()):
            log.info("purged %s", ", ".join(f"{count} {table}" for table, count in removed.items() if count))


@contextlib.asynccontextmanager
async def purging(
    store: Store,
    clock: Callable[[], float],
    interval: float = INTERVAL,
    dynamic_clients: int = DYNAMIC_CLIENT_RETENTION,
) -> AsyncIterator[None]:
    """The purge loop for as long as the block runs (the app's lifespan)."""
    task = asyncio.create_task(run_periodically(store, clock, interval, dynamic_clients))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
