"""Which statements the driver may send again after a lost connection (driver.Query.repeatable): reads only. A
SELECT whose WITH clauses consume a code or a refresh token is a write: sent twice, its first run may have
committed, and the second would find the secret used and take the client's own request for a replay."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy.sql.selectable import Select

from sekisho.server.store import queries as q
from sekisho.server.store.driver import Query


def _every_query() -> Iterator[tuple[str, Query]]:
    def within(name: str, value: object) -> Iterator[tuple[str, Query]]:
        if isinstance(value, Query):
            yield name, value
        elif isinstance(value, dict):  # by checks, or by a flag and then by checks
            for key, each in value.items():
                yield from within(f"{name}[{key}]", each)

    for name, value in vars(q).items():
        yield from within(name, value)


def _writes(query: Query) -> bool:
    """Judged from the SQL text: a write names INSERT, UPDATE or DELETE (no table or column here is so named; a
    SELECT … FOR UPDATE locks rows but writes none)."""
    texts = [query.compiled(dialect)[0].replace("FOR UPDATE", "") for dialect in query.statements]
    return any(re.search(r"\b(INSERT|UPDATE|DELETE)\b", text) for text in texts)


def test_only_reads_are_repeatable() -> None:
    queries = dict(_every_query())
    assert len(queries) > 50
    wrong = {name for name, query in queries.items() if query.repeatable == _writes(query)}
    assert not wrong


def test_the_statements_that_consume_a_secret_are_writes_though_they_are_selects() -> None:
    consuming = [q.ROTATE_REFRESH_TOKENS, q.REDEEM_CODES]
    assert all(isinstance(each.statements["postgresql"], Select) for each in consuming)
    assert not any(each.repeatable for each in consuming)
    assert q.FIND_REFRESH_TOKENS.repeatable and q.FIND_CODES.repeatable and q.FIND_ACCESS_TOKENS.repeatable
