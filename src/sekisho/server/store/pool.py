"""A small pool of asyncpg connections for `driver.PostgresDatabase`.

It keeps idle connections in a list and hands a released one straight to the next waiter (asyncpg's own pool re-arms
a timer, enters a timeout context and shields a new Task on every release; docs/performance.md has the A/B that keeps
this one). Connections keep no session state (no SET, LISTEN, advisory locks or cursors), so nothing is reset on
release. One that is closed, still in a transaction, or was in use when anything but a plain SQL error happened is
terminated, and its place is filled on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


class Pool:
    """Up to `max_size` connections from `connect`, opened when needed and kept for reuse."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        max_size: int,
        *,
        sql_error: type[BaseException],
        closed: Callable[[str], BaseException],
    ) -> None:
        """`sql_error`: the server's answer to a statement (see `run`); `closed`: what to raise once closed."""
        self._connect = connect
        self._max_size = max_size
        self._sql_error = sql_error
        self._closed_error = closed
        self._idle: list[Any] = []
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._size = 0  # connections open, being opened or lent out
        self._closed = False

    async def acquire(self) -> Any:
        if self._closed:
            raise self._closed_error("the connection pool is closed")
        while self._idle:
            connection = self._idle.pop()  # the most recently used: warm, and the others may time out alone
            if not connection.is_closed():
                return connection
            self._size -= 1
        if self._size < self._max_size:
            self._size += 1
        else:
            connection = await self._wait()
            if connection is not None:
                return connection
        try:  # a place is ours: open a connection for it
            return await self._connect()
        except BaseException:
            self._free_place()
            raise

    async def _wait(self) -> Any:
        """A released connection, or None: a place was freed, open one."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # handed over, but we are cancelled: pass it on
                handed = waiter.result()
                if handed is None:
                    self._free_place()
                else:
                    self.release(handed)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self, connection: Any) -> None:
        if self._closed or connection.is_closed() or connection.is_in_transaction():
            connection.terminate()
            self._free_place()
        elif not self._hand_over(connection):
            self._idle.append(connection)

    def _free_place(self) -> None:
        if not self._hand_over(None):
            self._size -= 1

    def _hand_over(self, connection: Any) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    async def run(self, method: str, sql: str, args: Sequence[Any], broken: tuple[type[BaseException], ...]) -> Any:
        """`connection.<method>(sql, *args)` on a pooled connection. A plain SQL error (a constraint, say) leaves
        it good; anything else, or one of `broken`, may have left it mid-protocol: it is terminated."""
        connection = await self.acquire()
        try:
            result = await getattr(connection, method)(sql, *args)
        except BaseException as error:
            if not isinstance(error, self._sql_error) or isinstance(error, broken):
                connection.terminate()
            self.release(connection)
            raise
        self.release(connection)
        return result

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._closed_error("the connection pool is closed"))
        await asyncio.gather(*(connection.close() for connection in idle), return_exceptions=True)
