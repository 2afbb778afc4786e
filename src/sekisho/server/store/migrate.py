"""Create or upgrade the schema to the newest migration (Alembic), on start and from the admin commands."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from sekisho.server.store.driver import postgres_dsn, sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"


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
    """Upgrade to `revision` (the newest by default); a no-op when the schema is there already."""
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()
