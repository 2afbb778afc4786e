"""sekisho.server.store.pool: the asyncpg connection pool of driver.PostgresDatabase, against fake connections.

Kept instead of asyncpg's own pool because asyncpg's cost a third more instructions a request (docs/performance.md);
these tests pin what it promises: a bound under a burst, hand-over to waiters in order, no connection lent twice, a
broken or mid-transaction connection never lent again, cancellation that leaks no place, and a clean close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sekisho.server.store.pool import Pool


class SqlError(Exception):
    """A plain statement error: the connection stays good."""


class Closed(Exception):
    """What the pool raises once closed."""


class FakeConnection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.terminated = False
        self.in_transaction = False
        self.lent = False

    def is_closed(self) -> bool:
        return self.closed or self.terminated

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    def terminate(self) -> None:
        self.terminated = True

    async def close(self) -> None:
        self.closed = True

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        await asyncio.sleep(0)
        if sql == "bad sql":
            raise SqlError(sql)
        if sql == "broken":
            raise ConnectionResetError(sql)
        return [self.number, *args]


class Opener:
    """`connect` for the pool: counts what it opened; `fail` makes the next opening fail."""

    def __init__(self) -> None:
        self.opened: list[FakeConnection] = []
        self.fail = False

    async def __call__(self) -> FakeConnection:
        await asyncio.sleep(0)
        if self.fail:
            self.fail = False
            raise OSError("connection refused")
        connection = FakeConnection(len(self.opened))
        self.opened.append(connection)
        return connection


def make_pool(max_size: int = 3) -> tuple[Pool, Opener]:
    opener = Opener()
    return Pool(opener, max_size, sql_error=SqlError, closed=Closed), opener


async def borrow(pool: Pool, hold: float = 0.001) -> int:
    connection: FakeConnection = await pool.acquire()
    assert not connection.lent, "a connection was lent to two borrowers at once"
    connection.lent = True
    await asyncio.sleep(hold)
    connection.lent = False
    pool.release(connection)
    return connection.number


def test_a_burst_never_opens_more_than_the_bound_and_everyone_is_served() -> None:
    async def burst() -> tuple[list[int], int]:
        pool, opener = make_pool(3)
        served = await asyncio.gather(*(borrow(pool) for _ in range(60)))
        return served, len(opener.opened)

    served, opened = asyncio.run(burst())
    assert len(served) == 60 and opened == 3


def test_a_released_connection_goes_to_the_longest_waiter() -> None:
    async def scenario() -> list[str]:
        pool, _ = make_pool(1)
        first = await pool.acquire()
        order: list[str] = []

        async def wait(name: str) -> None:
            connection = await pool.acquire()
            order.append(name)
            pool.release(connection)

        waiters = [asyncio.create_task(wait(name)) for name in ("a", "b", "c")]
        await asyncio.sleep(0.01)
        pool.release(first)
        await asyncio.gather(*waiters)
        return order

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_a_connection_released_in_a_transaction_or_closed_is_never_lent_again() -> None:
    async def scenario() -> tuple[bool, int, int]:
        pool, opener = make_pool(1)
        connection = await pool.acquire()
        connection.in_transaction = True
        pool.release(connection)
        replacement = await pool.acquire()
        pool.release(replacement)
        replacement.closed = True  # died while idle (a PostgreSQL restart)
        third = await pool.acquire()
        assert len(opener.opened) == 3
        return connection.terminated, replacement.number, third.number

    terminated, second, third = asyncio.run(scenario())
    assert terminated and second == 1 and third == 2


def test_run_keeps_a_connection_after_a_sql_error_and_drops_it_after_anything_else() -> None:
    async def scenario() -> list[int]:
        pool, opener = make_pool(1)
        assert await pool.run("fetch", "select", ["x"], (ConnectionResetError,)) == [0, "x"]
        with pytest.raises(SqlError):
            await pool.run("fetch", "bad sql", [], (ConnectionResetError,))
        assert await pool.run("fetch", "select", [], (ConnectionResetError,)) == [0]  # the same connection
        with pytest.raises(ConnectionResetError):
            await pool.run("fetch", "broken", [], (ConnectionResetError,))
        assert opener.opened[0].terminated
        return await pool.run("fetch", "select", [], (ConnectionResetError,))

    assert asyncio.run(scenario()) == [1]


def test_a_cancelled_waiter_leaks_no_place() -> None:
    async def scenario() -> int:
        pool, _ = make_pool(1)
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(held)  # handed to the waiter …
        waiter.cancel()  # … which is cancelled before it runs: the connection must go back
        with pytest.raises(asyncio.CancelledError):
            await waiter
        again = await asyncio.wait_for(pool.acquire(), timeout=1)
        return int(again.number)

    assert asyncio.run(scenario()) == 0


def test_a_failed_opening_frees_its_place() -> None:
    async def scenario() -> int:
        pool, opener = make_pool(1)
        opener.fail = True
        with pytest.raises(OSError):
            await pool.acquire()
        connection = await asyncio.wait_for(pool.acquire(), timeout=1)
        return int(connection.number)

    assert asyncio.run(scenario()) == 0


def test_close_fails_waiters_closes_idle_connections_and_refuses_more() -> None:
    async def scenario() -> tuple[bool, bool]:
        pool, opener = make_pool(1)
        idle = await pool.acquire()
        pool.release(idle)
        busy_pool, _ = make_pool(1)
        busy = await busy_pool.acquire()
        waiters = [asyncio.create_task(busy_pool.acquire()) for _ in range(2)]
        await asyncio.sleep(0.01)
        await pool.close()
        await busy_pool.close()
        for task in waiters:
            with pytest.raises(Closed):
                await task
        with pytest.raises(Closed):
            await pool.acquire()
        busy_pool.release(busy)  # given back after the close: terminated, not kept
        return opener.opened[0].closed, busy.terminated

    closed_idle, terminated_busy = asyncio.run(scenario())
    assert closed_idle and terminated_busy
