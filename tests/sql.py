"""Reading a test's database directly, past sekisho, on SQLite or PostgreSQL alike (SQLAlchemy, sync drivers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.pool import NullPool


@contextmanager
def connect(database: str) -> Iterator[Connection]:
    url = database.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def rows(database: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Every row of one statement (`:name` parameters), as tuples."""
    with connect(database) as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def count(database: str, table: str) -> int:
    [(found,)] = rows(database, f"SELECT count(*) FROM {table}")  # table names come from the tests themselves
    return int(found)


def every_value(database: str) -> Iterator[tuple[str, str, object]]:
    """(table, column, value) for every stored value of every table."""
    with connect(database) as connection:
        for table in inspect(connection).get_table_names():
            result = connection.execute(text(f'SELECT * FROM "{table}"'))  # names from the schema itself
            columns = list(result.keys())
            for row in result:
                yield from ((table, column, value) for column, value in zip(columns, row, strict=True))
