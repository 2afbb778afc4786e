"""The login throttle's rows under a parallel burst of attempts and good logins, from two stores on one database
(two `sekisho serve` processes): every attempt is judged from both of its rows, none is lost to a race."""

from __future__ import annotations

import asyncio

from sekisho.server.entities import LoginAttempts, Reservation
from sekisho.server.store.sql import SqlStore

ROUNDS = 40


def admit(account: LoginAttempts, address: LoginAttempts) -> Reservation:
    """Every attempt admitted and counted (the rules are throttle.py's; here only the rows matter)."""
    return Reservation(0, 0, LoginAttempts(account.failures + 1, 1, 0), LoginAttempts(address.failures + 1, 1, 0))


def test_attempts_and_good_logins_of_one_account_at_once_on_two_stores(database: str) -> None:
    """Issue 21, finding 1 (the atomic reservation), as two servers see it: a good login forgives (deletes) the
    account's row while another server's attempt has just made sure the row exists. On PostgreSQL that attempt
    found no row to lock and failed with a KeyError (a 500 at POST /login, seen in tests/e2e/test_many_servers.py);
    the row it makes sure of is now locked at once."""

    async def main() -> None:
        stores = [await SqlStore.open(database), await SqlStore.open(database, migrate_schema=False)]
        try:
            for round_ in range(ROUNDS):
                user, addr = "user:dave", f"addr:192.0.2.{round_ % 4}"
                attempts = [stores[n % 2].throttle.reserve(user, addr, 1_000 + round_, admit) for n in range(4)]
                forgiven = [stores[n % 2].throttle.forgive(user, addr) for n in range(2)]
                results = await asyncio.gather(*attempts, *forgiven, return_exceptions=True)
                assert not [r for r in results if isinstance(r, BaseException)], results
        finally:
            for store in stores:
                await store.close()

    asyncio.run(main())
