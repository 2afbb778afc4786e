"""Create or upgrade the schema to the newest migration (Alembic), on start and from the admin commands."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from sekisho.server.store.driver import postgres_dsn, sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5E715E0  # the PostgreSQL advisory lock key that serialises migrations


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def sqlalchemy_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:///" + sqlite_path(url)
    return postgres_dsn(url).replace("postgresql://", "postgresql+asyncpg://", 1)


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade to `revision` (the newest by default); a no-op when the schema is there already.

    Servers starting together on one database take turns (PostgreSQL: an advisory lock; SQLite: a lock file
    beside the database); the later ones find the schema current.
    """
    if url.startswith("sqlite:") and sqlite_path(url) != ":memory:":
        async with _file_lock(Path(sqlite_path(url) + ".migrate-lock")):
            await _upgrade(url, revision)
    else:
        await _upgrade(url, revision)


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    with path.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def _upgrade(url: str, revision: str) -> None:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()
