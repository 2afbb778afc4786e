"""Purging what is past its use, in bounded batches, on SQLite and PostgreSQL: tables stop growing, and nothing
still in use goes (a live token, a consumed refresh token that reuse detection needs, a session)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time

import pytest

from sekisho.server.purge import purge, purging
from sekisho.server.store.driver import StoreUnavailable
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import World, make_world
from tests.live import cli

TABLES = ("authorization_codes", "access_tokens", "refresh_tokens", "sessions", "grants")


def purge_now(world: World, batch: int = 1000) -> dict[str, int]:
    async def run() -> dict[str, int]:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            return await purge(store, int(world.clock()), batch=batch, pause=0)
        finally:
            await store.close()

    return asyncio.run(run())


def sizes(world: World) -> dict[str, int]:
    return {table: sql.count(world.database, table) for table in TABLES}


def refresh(world: World, token: object) -> dict[str, object]:
    answer = world.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token, "client_id": world.public.client_id},
    )
    body: dict[str, object] = {"_status": answer.status_code, **answer.json()}
    return body


def test_nothing_in_use_is_purged_and_what_is_past_its_use_goes(world: World) -> None:
    world.login()
    issued = [world.tokens() for _ in range(5)]
    rotated = refresh(world, issued[0]["refresh_token"])  # issued[0]'s refresh token is now consumed
    assert rotated["_status"] == 200
    before = sizes(world)
    assert purge_now(world) == dict.fromkeys(purge_now(world), 0)
    assert sizes(world) == before

    world.clock.advance(3601)  # every access token has expired; refresh tokens and the session have not
    removed = purge_now(world)
    assert removed["access_tokens"] == before["access_tokens"] and sql.count(world.database, "access_tokens") == 0
    assert removed["refresh_tokens"] == 0 and removed["sessions"] == 0
    # The consumed refresh token is still there for reuse detection: a replay is refused and ends the grant.
    replay = refresh(world, issued[0]["refresh_token"])
    assert replay["_status"] == 400 and replay["error"] == "invalid_grant"
    assert refresh(world, rotated["refresh_token"])["error"] == "invalid_grant"  # the family was revoked
    assert refresh(world, issued[1]["refresh_token"])["_status"] == 200  # other grants are untouched

    world.clock.advance(181 * 24 * 3600)  # past every refresh token's absolute lifetime, the session and the codes
    removed = purge_now(world, batch=2)  # small batches: the loop goes on until a batch comes back short
    after = sizes(world)
    assert after == {"authorization_codes": 0, "access_tokens": 0, "refresh_tokens": 0, "sessions": 0, "grants": 4}
    assert removed["authorization_codes"] == before["authorization_codes"]
    assert removed["grants"] == 1  # the revoked grant of issued[0]; the others were never revoked and stay listed
    assert world.http.get("/settings/apps", follow_redirects=False).status_code == 303  # the session is gone


def test_sekisho_purge_prints_what_it_removed(world: World) -> None:
    """`sekisho purge` goes by the wall clock: rows written half a year ago (by the app's clock) are past their use."""
    world.clock.now = time.time() - 182 * 24 * 3600  # past a refresh token's absolute lifetime, a session's, a code's
    world.login()
    world.tokens()
    world.tokens()
    before = sizes(world)
    assert all(before[table] >= 2 for table in ("authorization_codes", "access_tokens", "refresh_tokens"))
    assert before["sessions"] == 1
    done = cli("purge", "--json", database=world.database)
    removed = json.loads(done.stdout)
    assert set(removed) >= set(TABLES) and all(isinstance(count, int) for count in removed.values())
    for table in ("authorization_codes", "access_tokens", "refresh_tokens", "sessions"):
        assert removed[table] == before[table] > 0, (table, removed)
        assert sql.count(world.database, table) == 0, table
    assert removed["grants"] == 0 and sql.count(world.database, "grants") == before["grants"] == 2  # never revoked
    printed = cli("purge", database=world.database).stdout
    assert printed.startswith("purged 0 rows: "), printed  # nothing is left to go


def test_the_app_purges_on_its_own_timer(database: str) -> None:
    """The lifespan starts the purge loop: an expired token goes without anyone running `sekisho purge`."""
    with make_world(database, purge_interval=0.05) as world:
        world.login()
        world.tokens()
        assert sql.count(database, "access_tokens") == 1
        world.clock.advance(3601)
        deadline = time.monotonic() + 10
        while sql.count(database, "access_tokens") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sql.count(database, "access_tokens") == 0
        assert sql.count(database, "refresh_tokens") == 1  # not expired yet: still there


class FailingRound(SqlStore):
    """The real store, except that every purge statement of round `failing` raises as a lost database would."""

    failing = 1

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.rounds: list[float] = []  # when each round started (monotonic): the loop reads the clock once a round

    async def purge_batch(self, table: str, *, cutoff: int, now: int, batch: int) -> int:
        if len(self.rounds) == self.failing:
            raise StoreUnavailable(ConnectionResetError("connection reset by peer"))
        return await super().purge_batch(table, cutoff=cutoff, now=now, batch=batch)


def test_the_purge_loop_runs_every_interval_and_a_failed_round_is_logged_and_retried(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.login()
    world.tokens()
    world.clock.advance(3601)  # the access token has expired: the first round that gets through removes it
    interval = 0.05

    async def run() -> list[float]:
        store = FailingRound(world.database)
        await store.connect(migrate_schema=False)
        third = asyncio.Event()

        def clock() -> float:
            store.rounds.append(time.monotonic())
            if len(store.rounds) == 3:
                third.set()
            return world.clock()

        try:
            async with purging(store, clock, interval):
                await asyncio.wait_for(third.wait(), timeout=10)  # rounds 1 (failed) and 2 are over
        finally:
            await store.close()
        return store.rounds

    caplog.set_level(logging.INFO, logger="sekisho")
    caplog.clear()
    rounds = asyncio.run(run())
    assert len(rounds) == 3
    assert all(later - earlier >= interval * 0.9 for earlier, later in itertools.pairwise(rounds))
    messages = [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "sekisho"]
    assert messages == [
        ("WARNING", "purge failed: StoreUnavailable: the database cannot be reached right now; try again in a moment"),
        ("INFO", "purged 1 access_tokens"),
    ]
    assert sql.count(world.database, "access_tokens") == 0
