"""`Proofs` on SQLite and PostgreSQL: a DPoP proof is used once across two stores over one database (two servers),
even in a parallel burst, and the purge removes the rows once too old."""

from __future__ import annotations

import asyncio

from sekisho.server.purge import purge
from sekisho.server.store.sql import SqlStore
from tests import sql

NOW = 1_800_000_000
BURST = 16


def test_a_burst_of_one_proof_through_two_stores_is_accepted_once(database: str) -> None:
    async def go() -> tuple[list[bool], bool, bool]:
        stores = [await SqlStore.open(database), await SqlStore.open(database, migrate_schema=False)]
        try:
            burst = await asyncio.gather(*(stores[i % 2].proofs.use("a" * 64, NOW + 61) for i in range(BURST)))
            again = await stores[1].proofs.use("a" * 64, NOW + 61)
            other = await stores[0].proofs.use("b" * 64, NOW + 61)
            return list(burst), again, other
        finally:
            for store in stores:
                await store.close()

    burst, again, other = asyncio.run(go())
    assert burst.count(True) == 1
    assert not again
    assert other


def test_purge_removes_proofs_past_their_window(database: str) -> None:
    async def go() -> dict[str, int]:
        store = await SqlStore.open(database)
        try:
            await store.proofs.use("c" * 64, NOW - 1)
            await store.proofs.use("d" * 64, NOW + 60)
            return await purge(store, NOW)
        finally:
            await store.close()

    assert asyncio.run(go())["dpop_proofs"] == 1
    assert sql.count(database, "dpop_proofs") == 1
