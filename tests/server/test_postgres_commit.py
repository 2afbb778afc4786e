"""PostgreSQL: the connection lost between a transaction's last statement and its COMMIT (the backend ended from a
second connection, as a crash or a network cut would end it) is a 503 with Retry-After, with nothing half-written,
and the pool goes on with fresh connections (sekisho.server.store.driver.PostgresDatabase.transaction)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import func, select

from sekisho.server.store.driver import Connection, Database, Query
from tests import sql
from tests.conftest import TEMPLATE, World, hidden_fields, make_world
from tests.pg import Cluster

BACKEND_PID = Query(select(func.pg_backend_pid()))


class CutBeforeCommit:
    """The app's database, except that every transaction's backend is ended after its last statement, before
    COMMIT is sent."""

    def __init__(self, inner: Database, url: str) -> None:
        self.inner = inner
        self.url = url
        self.dialect = inner.dialect
        self.cut: list[int] = []  # the backends ended

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.inner.transaction() as tx:
            yield tx
            row = await tx.fetch_one(BACKEND_PID)
            assert row is not None
            admin = await asyncpg.connect(self.url)
            try:  # PostgreSQL 14+: wait (up to 5 s) until the backend has exited
                assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", row[0]) is True
            finally:
                await admin.close()
            self.cut.append(row[0])

    def reader(self) -> Connection:
        return self.inner.reader()

    def writer(self) -> Connection:
        return self.inner.writer()

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def world_on_postgres(postgres: Cluster) -> Iterator[World]:
    name = f"commit_{secrets.token_hex(4)}"
    url = postgres.create_database(name, template=TEMPLATE)
    try:
        with make_world(url) as world:
            yield world
    finally:
        postgres.drop_database(name)


def test_a_connection_lost_before_commit_is_a_503_and_leaves_no_half_issued_grant(world_on_postgres: World) -> None:
    world = world_on_postgres
    world.login()
    params = world.authorize_params(world.public.client_id)
    page = world.http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    grants = world.http.app.state.sekisho.store.grants  # type: ignore[attr-defined]
    healthy = grants._database
    grants._database = cut = CutBeforeCommit(healthy, world.database)
    try:
        # Allow: issue_code writes the grant, then its code, in one transaction; COMMIT finds the backend gone.
        answer = world.http.post(
            "/oauth/authorize", data={**hidden_fields(page.text), "decision": "allow"}, follow_redirects=False
        )
        assert len(cut.cut) == 1
    finally:
        grants._database = healthy
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert "location" not in answer.headers  # no code went anywhere
    assert sql.count(world.database, "grants") == 0
    assert sql.count(world.database, "authorization_codes") == 0

    # The ended connection was not handed back to the pool: the retry works on a fresh one, end to end.
    code, verifier = world.code()
    tokens = world.exchange(code, verifier)
    assert tokens["token_type"] == "Bearer"
    assert sql.count(world.database, "grants") == 1 and sql.count(world.database, "authorization_codes") == 1
