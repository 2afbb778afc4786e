"""Alembic migrations on SQLite and PostgreSQL: they build exactly the schema the code uses, and upgrade an older
schema in place, keeping its rows."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from sekisho.server.passwords import hash_password
from sekisho.server.store import driver
from sekisho.server.store import sql as store_sql
from sekisho.server.store.driver import open_database
from sekisho.server.store.migrate import HEAD, MIGRATIONS, is_current, migrate
from sekisho.server.store.schema import metadata
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import PASSWORD, Databases


@pytest.fixture
def empty(databases: Databases, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return databases.empty(tmp_path, request)


def test_migrations_build_exactly_the_schema_the_code_uses(empty: str) -> None:
    asyncio.run(migrate(empty))
    asyncio.run(migrate(empty))  # a second start is a no-op
    with sql.connect(empty) as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_an_older_schema_is_upgraded_in_place_and_keeps_its_rows(empty: str) -> None:
    asyncio.run(migrate(empty, "0002"))  # the schema before JWT signing keys and resource servers
    password_hash = asyncio.run(hash_password(PASSWORD))
    with sql.connect(empty) as connection:
        connection.execute(
            text("INSERT INTO users (id, username, password_hash, created_at) VALUES (:id, :name, :hash, 1)"),
            {"id": "u1", "name": "old-alice", "hash": password_hash},
        )
        connection.exec_driver_sql(
            "INSERT INTO clients (client_id, name, secret_digest, redirect_uris, grant_types, scopes, created_at) "
            "VALUES ('old-app', 'Old App', NULL, 'https://old.example/cb', 'authorization_code refresh_token', "
            "NULL, 1)"
        )
        connection.commit()
    assert sql.rows(empty, "SELECT count(*) FROM alembic_version WHERE version_num = '0002'") == [(1,)]

    async def upgraded() -> tuple[object, object]:
        store = await SqlStore.open(empty)  # what `sekisho serve` does on start: migrate to head
        try:
            return await store.users.find_by_name("old-alice"), await store.clients.find("old-app")
        finally:
            await store.close()

    user, client = asyncio.run(upgraded())
    assert user is not None and getattr(user, "password_hash", password_hash) == password_hash
    assert client is not None
    assert client.redirect_uris == ("https://old.example/cb",)  # type: ignore[attr-defined]
    assert client.resource_server is False  # type: ignore[attr-defined]  # the new column's default
    with sql.connect(empty) as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_servers_starting_together_on_an_empty_database_migrate_once(empty: str) -> None:
    async def start_together() -> None:
        await asyncio.gather(*(migrate(empty) for _ in range(4)))

    asyncio.run(start_together())
    with sql.connect(empty) as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_head_names_the_newest_migration() -> None:
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD


def test_is_current_only_at_head(empty: str) -> None:
    async def current() -> bool:
        database = await open_database(empty)
        try:
            return await is_current(database)
        finally:
            await database.close()

    assert asyncio.run(current()) is False  # no alembic_version table at all
    asyncio.run(migrate(empty, "0002"))
    assert asyncio.run(current()) is False
    asyncio.run(migrate(empty))
    assert asyncio.run(current()) is True


LEAN_START = """
import asyncio, sys
import sekisho.cli, sekisho.server.web.app
from sekisho.server.store.sql import SqlStore

async def main():
    store = await SqlStore.open(sys.argv[1])
    await store.close()

asyncio.run(main())
heavy = ("alembic", "mako", "mf2py", "bs4", "html5lib", "requests", "sqlalchemy.ext.asyncio", "greenlet")
print(" ".join(sorted(name for name in sys.modules if name.startswith(heavy))))
"""


def test_a_start_on_a_current_schema_loads_neither_alembic_nor_mf2py(empty: str) -> None:
    """Alembic and the async engine come in only to build or upgrade a schema, mf2py only for a client's page:
    together about 28 MiB that a serving process on a current schema does without (bench/RESULTS.md)."""
    asyncio.run(migrate(empty))
    loaded = subprocess.run([sys.executable, "-c", LEAN_START, empty], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_a_migration_that_fails_closes_the_database_it_opened(empty: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema this code cannot migrate (a revision it does not know, say from a newer sekisho): the error reaches
    the caller, and the connections opened to read the revision are closed again, not left behind."""
    asyncio.run(migrate(empty))
    with sql.connect(empty) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        connection.commit()
    closed: list[bool] = []

    async def recorded(url: str) -> driver.Database:
        database = await open_database(url)
        close = database.close

        async def close_and_record() -> None:
            closed.append(True)
            await close()

        database.close = close_and_record  # type: ignore[method-assign]
        return database

    monkeypatch.setattr(store_sql, "open_database", recorded)
    with pytest.raises(Exception, match="9999"):
        asyncio.run(SqlStore.open(empty))
    assert closed == [True]
