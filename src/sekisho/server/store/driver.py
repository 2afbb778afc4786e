"""Run SQLAlchemy Core statements directly on the driver.

Each statement is compiled once per dialect, through SQLAlchemy's public compiler API, to SQL text and a parameter
order, then executed directly on aiosqlite or asyncpg: no engine, no greenlet hop per statement (why: the shared
MACHINE-NOTES.md and docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import aiosqlite
from sqlalchemy import literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import CTE, Select

from sekisho.errors import TemporarilyUnavailable
from sekisho.server.store.pool import Pool

Row = Sequence[Any]
CONNECT_TIMEOUT = 5.0  # seconds to open a PostgreSQL connection before the request is answered with a 503


class StoreUnavailable(TemporarilyUnavailable):
    """The database cannot be reached (PostgreSQL down or restarting, a connection cut): a 503 with Retry-After.

    Raised only where nothing was committed, or where the outcome is unknown and the client must not be told
    either way; the client retries, and single-use values (codes, refresh tokens) stay single-use.
    """

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            "the database cannot be reached right now; try again in a moment",
            detail=f"{type(cause).__name__}: {cause}",
        )


_DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.asyncpg.dialect(),  # type: ignore[no-untyped-call]
}


def _reads_only(statement: ClauseElement) -> bool:
    """A SELECT with no INSERT, UPDATE or DELETE in its WITH clauses (a consuming CTE is a write)."""
    if not isinstance(statement, Select):
        return False
    return not any(
        isinstance(each, CTE) and isinstance(each.element, UpdateBase) for each in visitors.iterate(statement)
    )


class Query:
    """A Core statement with named bind parameters, compiled once per dialect."""

    __slots__ = ("statements", "repeatable", "_compiled")

    def __init__(self, statement: ClauseElement | Mapping[str, ClauseElement]) -> None:
        """One statement for every dialect, or one per dialect (for upserts)."""
        self.statements = statement if isinstance(statement, Mapping) else dict.fromkeys(_DIALECTS, statement)
        # A read may be sent again after a lost connection; a write may already have happened.
        self.repeatable = all(_reads_only(each) for each in self.statements.values())
        self._compiled: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    def compiled(self, dialect: str) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """SQL text, the order of its parameters, and the values of literals the statement binds itself."""
        found = self._compiled.get(dialect)
        if found is None:
            compiled = self.statements[dialect].compile(dialect=_DIALECTS[dialect])
            if not isinstance(compiled, SQLCompiler):
                raise TypeError(f"not a SQL statement: {self.statements[dialect]!r}")
            # The bound parameters in the order of the driver's placeholders, from SQLAlchemy's public API.
            expanded = compiled.construct_expanded_state(dict.fromkeys(compiled.binds), escape_names=False)
            names = tuple(expanded.positiontup or ())
            literals = {name: value for name, value in compiled.params.items() if value is not None}
            found = (str(compiled), names, literals)
            self._compiled[dialect] = found
        return found

    def arguments(self, dialect: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        sql, names, literals = self.compiled(dialect)
        return sql, [params[name] if name in params else literals[name] for name in names]


class Connection(Protocol):
    async def fetch_one(self, query: Query, **params: Any) -> Row | None: ...
    async def fetch_all(self, query: Query, **params: Any) -> list[Row]: ...
    async def execute(self, query: Query, **params: Any) -> None: ...


class Database(Protocol):
    dialect: str

    def transaction(self) -> Any: ...  # an async context manager yielding a Connection
    def reader(self) -> Connection: ...
    def writer(self) -> Connection: ...  # one write statement at a time, each atomic by itself (no BEGIN/COMMIT)
    async def ping(self) -> None: ...  # raises when the database cannot answer
    async def close(self) -> None: ...


PING = Query(select(literal(1)))


class _SqliteConnection:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def fetch_all(self, query: Query, **params: Any) -> list[Row]:
        sql, args = query.arguments("sqlite", params)
        return list(await self._connection.execute_fetchall(sql, args))

    async def fetch_one(self, query: Query, **params: Any) -> Row | None:
        rows = await self.fetch_all(query, **params)
        return rows[0] if rows else None

    async def execute(self, query: Query, **params: Any) -> None:
        await self.fetch_all(query, **params)


class _SqliteStatement:
    """One statement on the writer connection, outside any transaction (autocommit), under the writer's lock."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    async def fetch_all(self, query: Query, **params: Any) -> list[Row]:
        async with self._database._lock:
            return await self._database._writer.fetch_all(query, **params)

    async def fetch_one(self, query: Query, **params: Any) -> Row | None:
        rows = await self.fetch_all(query, **params)
        return rows[0] if rows else None

    async def execute(self, query: Query, **params: Any) -> None:
        await self.fetch_all(query, **params)


class SqliteDatabase:
    """One writer connection (transactions serialised by a lock) and one reader connection, in WAL mode."""

    dialect = "sqlite"

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, path: str = ":memory:") -> None:
        self._writer = _SqliteConnection(writer)
        self._reader = _SqliteConnection(reader)
        self._raw = (writer, reader)
        self._lock = asyncio.Lock()
        self._path = path

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        # A file that cannot be opened fails here, in sqlite3 itself: when aiosqlite's connect fails, its worker
        # thread is left to finish after the event loop has closed, and prints a traceback of its own.
        await asyncio.to_thread(_open_and_close, path)
        connections = []
        for _ in range(2):
            connection = await aiosqlite.connect(path, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON"):
                await connection.execute(f"PRAGMA {pragma}")
            connections.append(connection)
        return cls(connections[0], connections[1], path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._lock:
            writer = self._raw[0]
            # BEGIN IMMEDIATE takes the write lock up front, so concurrent processes serialise here.
            await writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await writer.execute("ROLLBACK")
                raise
            await writer.execute("COMMIT")

    def reader(self) -> Connection:
        return self._reader

    def writer(self) -> Connection:
        return _SqliteStatement(self)

    async def ping(self) -> None:
        """The reader answers, and the file at the path still opens (read-write, never created) and reads as a
        database: the open connections would go on answering from a file deleted or moved under them."""
        await self._reader.fetch_one(PING)
        if self._path in ("", ":memory:"):
            return
        async with aiosqlite.connect(f"file:{quote(self._path)}?mode=rw", uri=True) as fresh:
            await fresh.execute_fetchall("SELECT count(*) FROM sqlite_master")

    async def close(self) -> None:
        for connection in self._raw:
            await connection.close()


class _PostgresConnection:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def fetch_all(self, query: Query, **params: Any) -> list[Row]:
        sql, args = query.arguments("postgresql", params)
        return list(await self._connection.fetch(sql, *args))

    async def fetch_one(self, query: Query, **params: Any) -> Row | None:
        sql, args = query.arguments("postgresql", params)
        row: Row | None = await self._connection.fetchrow(sql, *args)
        return row

    async def execute(self, query: Query, **params: Any) -> None:
        sql, args = query.arguments("postgresql", params)
        await self._connection.execute(sql, *args)


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What asyncpg raises when the server is gone, restarting or refusing, or a connection was cut."""
    import asyncpg

    return (
        OSError,  # refused, reset, unreachable
        asyncio.TimeoutError,
        asyncpg.PostgresConnectionError,  # SQLSTATE class 08
        asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, cannot connect now
        asyncpg.InterfaceError,  # "connection was closed in the middle of operation", a released connection
        asyncpg.exceptions.InternalClientError,  # "cannot switch to state …": a connection broken mid-operation
    )


class _PoolReader:
    """Single statements outside a transaction, each on a connection borrowed from the pool.

    A read is safe to repeat: one that fails on a dead connection (after a PostgreSQL restart, every pooled
    connection is dead until used) is tried once more on a fresh one before the client hears of it.
    """

    def __init__(self, pool: Pool, unavailable: tuple[type[BaseException], ...]) -> None:
        self._pool = pool
        self._unavailable = unavailable

    async def _run(self, method: str, query: Query, params: Mapping[str, Any]) -> Any:
        sql, args = query.arguments("postgresql", params)
        for attempt in (1, 2):
            try:
                return await self._pool.run(method, sql, args, self._unavailable)
            except self._unavailable as error:
                if attempt == 2 or not query.repeatable:
                    raise StoreUnavailable(error) from None
        raise AssertionError("unreachable")

    async def fetch_all(self, query: Query, **params: Any) -> list[Row]:
        return list(await self._run("fetch", query, params))

    async def fetch_one(self, query: Query, **params: Any) -> Row | None:
        row: Row | None = await self._run("fetchrow", query, params)
        return row

    async def execute(self, query: Query, **params: Any) -> None:
        await self._run("execute", query, params)


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._unavailable = _connection_errors()
        self._reader = _PoolReader(pool, self._unavailable)

    @classmethod
    async def open(cls, url: str, *, max_size: int = 10) -> PostgresDatabase:
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("PostgreSQL needs the extra: pip install 'sekisho[postgresql]'") from exc
        # Connections open on demand and stay for reuse (with a minimum, a pool would keep reconnecting in the
        # background while PostgreSQL is down, instead of when a request needs one); nothing is reset on release
        # (asyncpg's pool would send "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL", one more
        # round trip): the store never sets session state, and a connection left in a transaction is terminated.
        connect = partial(asyncpg.connect, url, timeout=CONNECT_TIMEOUT)
        return cls(Pool(connect, max_size, sql_error=asyncpg.PostgresError, closed=asyncpg.InterfaceError))

    async def _begin(self) -> tuple[Any, Any]:
        """A pooled connection inside BEGIN. Nothing has been sent yet, so a dead connection is swapped once."""
        for attempt in (1, 2):
            connection = await self._pool.acquire()
            transaction = connection.transaction()
            try:
                await transaction.start()
                return connection, transaction
            except BaseException:
                self._discard(connection)
                self._pool.release(connection)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _discard(self, connection: Any) -> None:
        """Never hand a half-dead connection back to the pool (which then replaces it); terminate() on one that
        is already gone may raise one of the connection errors, which changes nothing."""
        with contextlib.suppress(*self._unavailable):
            connection.terminate()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One transaction; a lost connection at any point is `StoreUnavailable`, never a half-written grant.

        Before COMMIT reaches the server nothing is written. If the connection dies during COMMIT the outcome is
        unknown: the client gets a 503 and retries, and a code or refresh token that was in fact consumed stays
        consumed (the retry is refused, as a replay would be).
        """
        try:
            connection, transaction = await self._begin()
        except self._unavailable as error:
            raise StoreUnavailable(error) from None
        try:
            try:
                yield _PostgresConnection(connection)
            except BaseException as failure:
                lost = isinstance(failure, self._unavailable)
                if not lost:
                    try:
                        await transaction.rollback()
                    except self._unavailable:
                        lost = True
                if lost:
                    self._discard(connection)
                    raise StoreUnavailable(failure) from None
                raise
            try:
                await transaction.commit()
            except self._unavailable as error:
                self._discard(connection)
                raise StoreUnavailable(error) from None
        finally:
            self._pool.release(connection)

    def reader(self) -> Connection:
        return self._reader

    async def ping(self) -> None:
        await self._reader.fetch_one(PING)  # StoreUnavailable when PostgreSQL cannot answer

    def writer(self) -> Connection:
        # A statement in autocommit is its own transaction: one round trip instead of BEGIN, it, COMMIT. Writes are
        # not repeatable, so a lost connection is StoreUnavailable at once (the outcome of a sent one is unknown).
        return self._reader

    async def close(self) -> None:
        await self._pool.close()


def _open_and_close(path: str) -> None:
    """Open the SQLite file (creating it, as a connection would) and close it; sqlite3's error if it cannot be."""
    sqlite3.connect(path).close()


def sqlite_path(url: str) -> str:
    """`sqlite:///relative.db`, `sqlite:////absolute.db` or `sqlite:///:memory:` → a path for sqlite3."""
    path = url.removeprefix("sqlite://")
    return path[1:] if path.startswith("/") else path


def postgres_dsn(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    return url.replace(parts.scheme + "://", "postgresql://", 1) if scheme in ("postgres", "postgresql") else url


async def open_database(url: str) -> Database:
    if url.startswith("sqlite:"):
        return await SqliteDatabase.open(sqlite_path(url))
    return await PostgresDatabase.open(postgres_dsn(url))
