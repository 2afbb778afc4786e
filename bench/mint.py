"""Single-use secrets minted in bulk, straight into sekisho's database, for the grants that consume one per request.

A full authorization-code flow per refresh token would take longer than the run it feeds, so the rows are made
here exactly as the server makes them (`sekisho.server.token.mint_opaque` for refresh tokens; a grant and its code as
`sekisho.server.authorize.issue_code` does) and inserted with the store's own compiled statements
(`sekisho.server.store.queries`), many rows per statement round trip, in one transaction.

The only liberty: codes expire `CODE_LIFETIME` seconds after minting instead of the server's 120 s, so that a pool
minted before a long run is still good at its end; the exchange checks the expiry the same way either way.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import insert as sa_insert

from sekisho.protocol import pkce, tokens
from sekisho.server.entities import AuthorizationCode, Grant
from sekisho.server.ids import new_id
from sekisho.server.settings import build_settings
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Query, postgres_dsn, sqlite_path
from sekisho.server.token import mint_opaque

CODE_LIFETIME = 3600
VERIFIER = "bench-" + "v" * 60  # one PKCE verifier for every code: the server still hashes it on each exchange
BATCH = 5000


def _arguments(query: Query, dialect: str, rows: Iterable[Mapping[str, Any]]) -> tuple[str, list[list[Any]]]:
    sql = query.compiled(dialect)[0]
    return sql, [query.arguments(dialect, row)[1] for row in rows]


def _grant(user_id: str, client_id: str, scope: str, now: int) -> dict[str, Any]:
    grant = Grant(id=new_id(now * 1000), user_id=user_id, client_id=client_id, scope=scope, created_at=now)
    return asdict(grant) | {"last_used_at": None, "revoked_at": None}


def refresh_token_rows(
    database: str, user_id: str, client_id: str, scope: str, count: int
) -> tuple[list[str], dict[Query, list[dict[str, Any]]]]:
    """`count` refresh tokens, each of its own grant (as after `count` code exchanges); their secrets and rows."""
    settings = build_settings(database=database)
    now = int(time.time())
    secrets: list[str] = []
    grants: list[dict[str, Any]] = []
    refresh: list[dict[str, Any]] = []
    for _ in range(count):
        grant = _grant(user_id, client_id, scope, now)
        minted = mint_opaque(
            settings,
            grant_id=grant["id"],
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            now=now,
            refresh_scope=scope,
        )
        assert minted.refresh_token is not None and minted.records.refresh is not None
        secrets.append(minted.refresh_token)
        grants.append(grant)
        refresh.append(asdict(minted.records.refresh))
    return secrets, {q.INSERT_GRANT: grants, q.INSERT_REFRESH_TOKEN: refresh}


def code_rows(
    user_id: str, client_id: str, redirect_uri: str, scope: str, count: int
) -> tuple[list[str], dict[Query, list[dict[str, Any]]]]:
    """`count` authorization codes with the S256 challenge of `VERIFIER`, each for a new grant."""
    now = int(time.time())
    challenge = pkce.s256(VERIFIER)
    secrets: list[str] = []
    grants: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    for _ in range(count):
        grant = _grant(user_id, client_id, scope, now)
        code = tokens.new_secret(tokens.AUTHORIZATION_CODE)
        record = AuthorizationCode(
            digest=tokens.digest(code),
            grant_id=grant["id"],
            client_id=client_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=challenge,
            expires_at=now + CODE_LIFETIME,
        )
        secrets.append(code)
        grants.append(grant)
        codes.append(asdict(record) | {"created_at": now})
    return secrets, {q.INSERT_GRANT: grants, q.INSERT_CODE: codes}


def insert(database: str, tables: Mapping[Query, Sequence[Mapping[str, Any]]]) -> None:
    """Insert every row in one transaction, in the order of `tables` (grants before what refers to them).

    A column the database's schema does not have yet (a tree from before the migration that added it, seeded by
    bench.ab) is left out of the statement, provided no row gives it a value."""
    if database.startswith("sqlite:"):
        _insert_sqlite(sqlite_path(database), tables)
    else:
        asyncio.run(_insert_postgres(postgres_dsn(database), tables))


def narrowed(query: Query, rows: Sequence[Mapping[str, Any]], present: Collection[str]) -> Query:
    """`query` (an INSERT of every column of its table) over just the `present` columns; ValueError when a row has a
    value for a column the schema lacks."""
    statement = query.statements["sqlite"]
    table = statement.table  # type: ignore[attr-defined]
    missing = [column.name for column in table.c if column.name not in present]
    if not missing:
        return query
    valued = sorted({name for row in rows for name in missing if row.get(name) is not None})
    if valued:
        raise ValueError(f"the database's {table.name} has no column {', '.join(valued)}, which the rows fill")
    kept: dict[str, Any] = {column.name: bindparam(column.name) for column in table.c if column.name in present}
    return Query(sa_insert(table).values(kept))


def _insert_sqlite(path: str, tables: Mapping[Query, Sequence[Mapping[str, Any]]]) -> None:
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        for query, rows in tables.items():
            name = query.statements["sqlite"].table.name  # type: ignore[attr-defined]
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({name})")}
            connection.executemany(*_arguments(narrowed(query, rows, present), "sqlite", rows))
        connection.execute("COMMIT")
    finally:
        connection.close()


async def _insert_postgres(dsn: str, tables: Mapping[Query, Sequence[Mapping[str, Any]]]) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            for query, rows in tables.items():
                name = query.statements["postgresql"].table.name  # type: ignore[attr-defined]
                found = await connection.fetch(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = $1",
                    name,
                )
                query = narrowed(query, rows, {row["column_name"] for row in found})
                for start in range(0, len(rows), BATCH):
                    await connection.executemany(*_arguments(query, "postgresql", rows[start : start + BATCH]))
    finally:
        await connection.close()


def user_id(database: str, username: str) -> str:
    """The id of `username`, read with the store's own query."""
    sql, args = q.FIND_USER_BY_NAME.arguments(
        "sqlite" if database.startswith("sqlite:") else "postgresql", {"username": username}
    )
    if database.startswith("sqlite:"):
        connection = sqlite3.connect(sqlite_path(database))
        try:
            row = connection.execute(sql, args).fetchone()
        finally:
            connection.close()
    else:
        row = asyncio.run(_fetch_row(postgres_dsn(database), sql, args))
    if row is None:
        raise RuntimeError(f"no user {username!r} in {database}")
    return str(row[0])


async def _fetch_row(dsn: str, sql: str, args: Sequence[Any]) -> Any:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchrow(sql, *args)
    finally:
        await connection.close()
