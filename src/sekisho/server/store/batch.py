"""Natural batching of one kind of statement: what arrives while earlier batches are on their way goes in the next.

A token endpoint under load sends many single-row INSERTs (or lookups) at once, and each costs a round trip whose
client side (asyncpg's encoding, a socket write, a wake-up and a read) is a large part of a client_credentials
request's CPU. `Batcher` makes one statement of them.
Nothing waits on a timer: a write that finds fewer than `flushes` batches in flight starts one at once, so a lone
request goes as fast as before; under load, writes gather while the batches before them are being committed.

A batch is one statement, so it is written whole or not at all. If it fails, every write in it fails with the same
error (a lost connection: `StoreUnavailable`, and each of those requests gets its 503), as each would have alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await submit(item)` is what `write` answered for `item`, sent with whatever else was waiting (at most
    `most` items per call of `write`, at most `flushes` calls at once). `write` answers each item of its list, in
    order (a write: was it written; a lookup: what was found)."""

    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, most: int = 100, flushes: int = 2
    ) -> None:
        if most < 1 or flushes < 1:
            raise ValueError("a batch holds at least one write, and at least one batch is sent at a time")
        self._write = write
        self._most = most
        self._flushes = flushes
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak references to tasks

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, answer))
        if len(self._flushing) < self._flushes:
            self._flushing.add(loop.create_task(self._flush()))
        return await answer

    async def _flush(self) -> None:
        try:
            await self._flush_waiting()
        finally:
            # In the same step as the last look at `_waiting`: a done callback would run later, and a write
            # submitted in between would see this flush still counted, start none, and wait for the next write.
            self._flushing.discard(asyncio.current_task())

    async def _flush_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
            try:
                written = await self._write([item for item, _ in batch])
                if len(written) != len(batch):
                    raise RuntimeError(f"a batch of {len(batch)} writes was answered {len(written)} times")
            except Exception as error:
                for _, answer in batch:
                    if not answer.done():  # a request that was given up waits no more
                        answer.set_exception(error)
                continue
            except BaseException:  # cancelled (the loop is closing): nobody is left to answer
                for _, answer in batch:
                    answer.cancel()
                raise
            for (_, answer), done in zip(batch, written, strict=True):
                if not answer.done():
                    answer.set_result(done)
