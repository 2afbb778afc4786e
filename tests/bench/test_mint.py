"""bench/mint.py seeds the database of an older tree (bench.ab's BEFORE) whose schema lacks newer columns."""

from __future__ import annotations

import pytest
from bench.mint import narrowed

from sekisho.server.store import queries as q
from sekisho.server.store.schema import refresh_tokens

ALL = {column.name for column in refresh_tokens.c}


def test_every_column_present_keeps_the_statement() -> None:
    assert narrowed(q.INSERT_REFRESH_TOKEN, [{"resource": "https://api.example/"}], ALL) is q.INSERT_REFRESH_TOKEN


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_column_the_schema_lacks_is_left_out_when_no_row_fills_it(dialect: str) -> None:
    query = narrowed(q.INSERT_REFRESH_TOKEN, [{"resource": None}, {}], ALL - {"resource"})
    sql, names, _ = query.compiled(dialect)
    assert "resource" not in sql and "resource" not in names
    assert set(names) == ALL - {"resource"}


def test_a_row_with_a_value_for_a_missing_column_is_refused() -> None:
    with pytest.raises(ValueError, match="refresh_tokens has no column resource"):
        narrowed(q.INSERT_REFRESH_TOKEN, [{"resource": None}, {"resource": "https://api.example/"}], ALL - {"resource"})
