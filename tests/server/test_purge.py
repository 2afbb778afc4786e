"""Purging what is past its use, in bounded batches, on SQLite and PostgreSQL: tables stop growing, and nothing
still in use goes (a live token, a consumed refresh token that reuse detection needs, a session)."""

from __future__ import annotations

import asyncio
import json

from sekisho.server.purge import purge
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import World
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
    world.login()
    world.tokens()
    world.clock.advance(3601)
    done = cli("purge", "--json", database=world.database)
    removed = json.loads(done.stdout)
    assert set(removed) >= set(TABLES) and all(isinstance(count, int) for count in removed.values())
