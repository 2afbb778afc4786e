"""Per-transaction cost of sekisho's store (Core statements compiled once, run on the raw driver) against the
same statements through SQLAlchemy's async engine, side by side in one run.

    .venv/bin/python bench/store_overhead.py [--database URL] [--rounds 5] [--count 2000]

Prints, for each operation, the median over rounds of wall time and CPU time (all threads of this process) per
operation, and the engine/driver ratio. Default database: a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from sekisho.protocol import tokens
from sekisho.server.store import queries as q
from sekisho.server.store.migrate import sqlalchemy_url
from sekisho.server.store.sql import SqlStore


def access_row(i: int) -> dict[str, object]:
    return {
        "digest": tokens.digest(f"bench-{i}-{time.perf_counter_ns()}"),
        "grant_id": "g",
        "client_id": "c",
        "user_id": "u",
        "scope": "read:account",
        "created_at": 0,
        "expires_at": 2**40,
        "revoked_at": None,
    }


async def measure(action: Callable[[int], Awaitable[None]], count: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        await action(i)
    return (time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6


async def main(url: str, rounds: int, count: int) -> None:
    store = await SqlStore.open(url)
    engine = create_async_engine(sqlalchemy_url(url))
    digests: list[str] = []

    async def driver_insert(i: int) -> None:
        row = access_row(i)
        digests.append(str(row["digest"]))
        async with store.database.transaction() as tx:
            await tx.execute(q.INSERT_ACCESS_TOKEN, **row)

    async def engine_insert(i: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(q.INSERT_ACCESS_TOKEN.statements[store.database.dialect], access_row(i))

    async def driver_lookup(i: int) -> None:
        await store.grants.find_access_token(digests[i % len(digests)], 1)

    async def engine_lookup(i: int) -> None:
        statement = q.FIND_ACCESS_TOKEN.statements[store.database.dialect]
        async with engine.connect() as connection:
            (await connection.execute(statement, {"digest": digests[i % len(digests)], "now": 1})).first()

    operations = [
        ("insert token (1 transaction)", driver_insert, engine_insert),
        ("look up token by digest", driver_lookup, engine_lookup),
    ]
    print(f"database: {url.split('@')[-1]}   {count} operations x {rounds} rounds, medians per operation")
    header = f"{'operation':32} {'driver wall':>12} {'engine wall':>12}"
    print(f"{header} {'driver CPU':>11} {'engine CPU':>11} {'CPU ratio':>9}")
    for name, driver, via_engine in operations:
        results: dict[str, list[tuple[float, float]]] = {"driver": [], "engine": []}
        await measure(driver, count // 10)  # warm-up
        await measure(via_engine, count // 10)
        for _ in range(rounds):  # alternate, so that noise hits both sides alike
            results["driver"].append(await measure(driver, count))
            results["engine"].append(await measure(via_engine, count))
        dw, dc = (statistics.median(r[k] for r in results["driver"]) for k in (0, 1))
        ew, ec = (statistics.median(r[k] for r in results["engine"]) for k in (0, 1))
        print(f"{name:32} {dw:9.0f} µs {ew:9.0f} µs {dc:8.0f} µs {ec:8.0f} µs {ec / dc:8.1f}x")
    await engine.dispose()
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(main(url, args.rounds, args.count))
