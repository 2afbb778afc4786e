"""`Devices` on SQLite and PostgreSQL under concurrency: of a parallel burst of polls on an approved device code
(through two stores over one database, as two servers would), exactly one gets tokens; a decision is taken once; a
live user code is never handed out twice."""

from __future__ import annotations

import asyncio

from sekisho.protocol import tokens
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server import device
from sekisho.server.accounts import create_user
from sekisho.server.entities import Client, DeviceCode
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store import DeviceAsk, Outcome, Redeemed, Refused
from sekisho.server.store.sql import SqlStore
from sekisho.server.token import Issue
from tests import sql

NOW = 1_800_000_000
BURST = 12
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def _setup(database: str) -> tuple[list[SqlStore], Client, str, str]:
    """Two stores on one database, a device client, alice's id, and an approved device code."""
    stores = [await SqlStore.open(database), await SqlStore.open(database, migrate_schema=False)]
    alice = await create_user(stores[0], "alice", "a password of alice", NOW)
    client, _ = await register_client(
        stores[0], name="TV", redirect_uris=[], public=True, scope=None, grant_types=[GRANT, "refresh_token"],
        known_scopes=DEFAULT_SCOPES, now=NOW,
    )  # fmt: skip
    started = await device.start(stores[0], client, "read:account", DEFAULT_SCOPES, NOW)
    found = await stores[0].devices.find(started.user_code)
    assert found is not None
    assert await device.decide(stores[1], found, alice, allowed=True, now=NOW)
    return stores, client, alice.id, started.device_code


async def _poll(store: SqlStore, client: Client, device_code: str, settings: Settings) -> Outcome:
    issue = Issue(settings, NOW + 5, client.client_id, refresh=True, new_family=True)
    return await store.devices.poll(DeviceAsk(tokens.digest(device_code), client, NOW + 5), issue)


def test_a_burst_of_polls_on_an_approved_code_gets_one_token_response(database: str) -> None:
    settings = Settings(issuer="http://testserver", database=database)

    async def go() -> list[Outcome]:
        stores, client, _, device_code = await _setup(database)
        try:
            return await asyncio.gather(*(_poll(stores[i % 2], client, device_code, settings) for i in range(BURST)))
        finally:
            for store in stores:
                await store.close()

    outcomes = asyncio.run(go())
    won = [outcome for outcome in outcomes if isinstance(outcome, Redeemed)]
    assert len(won) == 1
    assert sorted(outcome.reason for outcome in outcomes if isinstance(outcome, Refused)) == ["replayed"] * (BURST - 1)
    assert sql.count(database, "access_tokens") == 1 and sql.count(database, "refresh_tokens") == 1
    [(status,)] = sql.rows(database, "SELECT status FROM device_codes")
    assert status == "consumed"


def test_a_decision_is_taken_once(database: str) -> None:
    async def go() -> list[bool]:
        store = await SqlStore.open(database)
        other = await SqlStore.open(database, migrate_schema=False)
        try:
            alice = await create_user(store, "alice", "a password of alice", NOW)
            client, _ = await register_client(
                store, name="TV", redirect_uris=[], public=True, scope=None, grant_types=[GRANT],
                known_scopes=DEFAULT_SCOPES, now=NOW,
            )  # fmt: skip
            started = await device.start(store, client, "read:account", DEFAULT_SCOPES, NOW)
            found = await store.devices.find(started.user_code)
            assert found is not None
            decisions = [
                device.decide(s, found, alice, allowed=i % 2 == 0, now=NOW)
                for i, s in enumerate([store, other] * (BURST // 2))
            ]
            return list(await asyncio.gather(*decisions))
        finally:
            await store.close()
            await other.close()

    assert sorted(asyncio.run(go())) == [False] * (BURST - 1) + [True]
    assert sql.count(database, "grants") <= 1  # one approval, or one denial and no grant


def test_a_live_user_code_is_never_given_twice(database: str) -> None:
    def code(number: int, expires_at: int) -> DeviceCode:
        return DeviceCode(f"{number:x}".rjust(64, "a"), "BCDFGHJK", "tv", "read:account", NOW, expires_at, 5)

    async def go() -> tuple[list[bool], list[bool]]:
        stores = [await SqlStore.open(database), await SqlStore.open(database, migrate_schema=False)]
        try:
            assert await stores[0].devices.add(code(0, NOW + 10), NOW)
            while_live = await asyncio.gather(
                *(stores[i % 2].devices.add(code(i, NOW + 700), NOW) for i in range(1, 7))
            )
            # Expired (not yet purged), it gives its user code up, to one of the racers.
            expired = await asyncio.gather(
                *(stores[i % 2].devices.add(code(i, NOW + 900), NOW + 20) for i in range(7, 13))
            )
            return list(while_live), list(expired)
        finally:
            for store in stores:
                await store.close()

    while_live, expired = asyncio.run(go())
    assert while_live == [False] * 6
    assert sorted(expired) == [False] * 5 + [True]
    assert sql.count(database, "device_codes") == 1


def test_a_grant_revoked_by_user_removal_goes_with_its_codes(database: str) -> None:
    async def go() -> None:
        stores, _, alice_id, _ = await _setup(database)
        try:
            assert await stores[0].users.remove(alice_id)
        finally:
            for store in stores:
                await store.close()

    asyncio.run(go())
    assert sql.count(database, "device_codes") == 0
