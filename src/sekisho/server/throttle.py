"""Login throttling per account and per address, with exponential back-off, kept in the store."""

from __future__ import annotations

from collections.abc import Callable

from sekisho.server.store import Store

WINDOW = 15 * 60  # failures older than this are forgotten
ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
MAX_DELAY = 15 * 60


def backoff(free: int) -> Callable[[int], int]:
    def delay(failures: int) -> int:
        """No delay for the first `free` failures, then 1 s, 2 s, 4 s … up to 15 minutes."""
        if failures <= free:
            return 0
        return int(min(2 ** min(failures - free - 1, 20), MAX_DELAY))

    return delay


_ACCOUNT_DELAY = backoff(ACCOUNT_FREE_FAILURES)
_ADDRESS_DELAY = backoff(ADDRESS_FREE_FAILURES)


def keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.lower()[:256]}", f"addr:{address[:64]}"


async def retry_after(store: Store, username: str, address: str, now: int) -> int:
    """Seconds the caller must wait before trying this account from this address again (0: go ahead)."""
    user_key, addr_key = keys(username, address)
    return max(0, await store.login_blocked_until(user_key, addr_key) - now)


async def record_failure(store: Store, username: str, address: str, now: int) -> None:
    user_key, addr_key = keys(username, address)
    await store.record_login_failure(user_key, now, WINDOW, _ACCOUNT_DELAY)
    await store.record_login_failure(addr_key, now, WINDOW, _ADDRESS_DELAY)


async def record_success(store: Store, username: str, address: str) -> None:
    await store.clear_login_failures(keys(username, address)[0])
