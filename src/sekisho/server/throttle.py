"""Login throttling, kept in the store: per account it blocks, per address it only delays (docs/security.md).

Every attempt is counted before its password is checked, in one atomic step with every other attempt on the same
account and address (`Throttle.reserve`), so a parallel burst is judged one attempt at a time; a verified
password forgives its attempt (`forgive`).

- The account: `ACCOUNT_FREE_FAILURES` attempts free, then 1 s, 2 s, 4 s … up to 15 minutes during which the account
  is refused (429 with Retry-After) from everywhere. Only the account's own failures block it.
- The address: `ADDRESS_FREE_FAILURES` attempts free across all accounts, then each further attempt from it waits
  1 s, 2 s, 4 s … up to `ADDRESS_MAX_DELAY` before its password is checked. It slows a spray across accounts and
  never refuses: a person behind the same proxy or NAT waits, and gets in.
"""

from __future__ import annotations

from collections.abc import Callable

from sekisho.server.entities import LoginAttempts, Reservation
from sekisho.server.store import Store

WINDOW = 15 * 60  # attempts older than this are forgotten
ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
MAX_DELAY = 15 * 60
ADDRESS_MAX_DELAY = 10


def backoff(free: int, cap: int = MAX_DELAY) -> Callable[[int], int]:
    def delay(failures: int) -> int:
        """No delay for the first `free` failures, then 1 s, 2 s, 4 s … up to `cap`."""
        if failures <= free:
            return 0
        return int(min(2 ** min(failures - free - 1, 20), cap))

    return delay


_ACCOUNT_DELAY = backoff(ACCOUNT_FREE_FAILURES)
_ADDRESS_DELAY = backoff(ADDRESS_FREE_FAILURES, ADDRESS_MAX_DELAY)


def keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.lower()[:256]}", f"addr:{address[:64]}"


def judge(
    account: LoginAttempts,
    address: LoginAttempts,
    now: int,
    *,
    account_block: Callable[[int], int] = _ACCOUNT_DELAY,
    address_delay: Callable[[int], int] = _ADDRESS_DELAY,
) -> Reservation:
    """Refuse an attempt on a blocked account without counting it; else count it on both keys, block the account
    for its back-off, and pause the attempt for the address's (the rules: logins' by default; device.py passes
    those of device code entries)."""
    if account.blocked_until > now:
        return Reservation(retry_after=account.blocked_until - now, delay=0)
    account_failures = _recent(account, now) + 1
    address_failures = _recent(address, now) + 1
    return Reservation(
        retry_after=0,
        delay=address_delay(address_failures),
        account=LoginAttempts(account_failures, now, now + account_block(account_failures)),
        address=LoginAttempts(address_failures, now, 0),
    )


def _recent(attempts: LoginAttempts, now: int) -> int:
    """The attempts still counted at `now`: none once the last one is older than WINDOW."""
    return attempts.failures if attempts.last_at >= now - WINDOW else 0


async def reserve(store: Store, username: str, address: str, now: int) -> Reservation:
    """Count this attempt before its password is checked, or refuse it (see `judge`)."""
    user_key, addr_key = keys(username, address)
    return await store.throttle.reserve(user_key, addr_key, now, lambda account, addr: judge(account, addr, now))


async def forgive(store: Store, username: str, address: str) -> None:
    """The password verified: the account's attempts are forgotten, and the address's count loses this one."""
    await store.throttle.forgive(*keys(username, address))
