"""Create or upgrade the schema to the newest migration (Alembic), on start and from the admin commands.

Alembic (with Mako) and SQLAlchemy's async engine are imported only when a schema is to be built or upgraded: a
start on a current schema, the usual one, reads the revision with the store's own connection (`is_current`) and
keeps them (and greenlet) out of every serving process (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, column, func, select, table, text

from sekisho.server.store.driver import Database, Query, postgres_dsn, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5E715E0  # the PostgreSQL advisory lock key that serialises migrations
HEAD: Final = "0010"  # the newest revision in migrations/versions; tests/server/test_migrations.py holds them equal

_VERSIONS = table("alembic_version", column("version_num"))
_SQLITE_TABLES = table("sqlite_master", column("type"), column("name"))
_PG_TABLES = table("pg_tables", column("schemaname"), column("tablename"), schema="pg_catalog")
_HAS_VERSIONS = Query(
    {
        "sqlite": select(func.count())
        .select_from(_SQLITE_TABLES)
        .where(_SQLITE_TABLES.c.type == "table", _SQLITE_TABLES.c.name == _VERSIONS.name),
        "postgresql": select(func.count())
        .select_from(_PG_TABLES)
        .where(_PG_TABLES.c.schemaname == func.current_schema(), _PG_TABLES.c.tablename == _VERSIONS.name),
    }
)
_REVISIONS = Query(select(_VERSIONS.c.version_num))


async def is_current(database: Database) -> bool:
    """Whether the schema is at `HEAD` already, read without Alembic (two reads; no lock is needed to see it)."""
    reader = database.reader()
    found = await reader.fetch_one(_HAS_VERSIONS)
    if found is None or not found[0]:
        return False
    return [tuple(row) for row in await reader.fetch_all(_REVISIONS)] == [(HEAD,)]


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

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
    from alembic import command
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()
