"""The device authorization grant (RFC 8628) in process, on SQLite and PostgreSQL, under a clock the tests move:
the device authorization endpoint, the /device pages, and every answer of the token endpoint's polling."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from httpx2 import Response

from sekisho.protocol.device import USER_CODE_ALPHABET, normalize_user_code
from sekisho.protocol.metadata import DEVICE_CODE_GRANT
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.accounts import create_user
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import ISSUER, PASSWORD, World, csrf_of, hidden_fields, make_world
from tests.server.test_token import refused


@dataclass
class Device:
    client_id: str
    client_secret: str | None = None

    def auth(self) -> dict[str, str]:
        return {"client_id": self.client_id} | ({"client_secret": self.client_secret} if self.client_secret else {})


def register(
    world: World, *, public: bool = True, grants: tuple[str, ...] = (DEVICE_CODE_GRANT, "refresh_token")
) -> Device:
    async def add() -> Device:
        store = await SqlStore.open(world.database)
        try:
            client, secret = await register_client(
                store, name="Living Room TV", redirect_uris=[], public=public, scope=None, grant_types=grants,
                known_scopes=DEFAULT_SCOPES, now=1_700_000_000,
            )  # fmt: skip
            return Device(client.client_id, secret)
        finally:
            await store.close()

    return asyncio.run(add())


def start(world: World, device: Device, **extra: str) -> dict[str, Any]:
    response = world.http.post(
        "/oauth/device_authorization", data={"scope": "read:account write:notes"} | device.auth() | extra
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def poll(world: World, device: Device, device_code: str) -> Response:
    return world.http.post(
        "/oauth/token", data={"grant_type": DEVICE_CODE_GRANT, "device_code": device_code} | device.auth()
    )


def enter(world: World, user_code: str) -> Response:
    """Type `user_code` on /device (signed in): the consent page, or the entry form again with a message."""
    page = world.http.get("/device")
    assert page.status_code == 200, page.text
    return world.http.post("/device", data={"user_code": user_code, "csrf_token": csrf_of(page.text)})


def decide(world: World, user_code: str, decision: str) -> Response:
    consent = enter(world, user_code)
    assert consent.status_code == 200, consent.text
    form = hidden_fields(consent.text) | {"decision": decision}
    return world.http.post("/device", data=form)


@pytest.fixture
def device(world: World) -> Device:
    world.login()
    return register(world)


def test_device_authorization_response(world: World, device: Device) -> None:
    body = start(world, device)
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert body["device_code"].startswith("sek_dc_")
    assert re.fullmatch(f"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}", body["user_code"])
    assert body["verification_uri"] == "http://testserver/device"
    assert body["verification_uri_complete"] == f"http://testserver/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    # Stored as a digest only.
    assert not any(body["device_code"] in str(value) for _, _, value in sql.every_value(world.database))


def test_device_authorization_refusals(world: World, device: Device) -> None:
    no_grant = register(world, grants=("refresh_token",))
    confidential = register(world, public=False)
    unknown = world.http.post("/oauth/device_authorization", data={"client_id": "nobody"})
    assert refused(unknown, "invalid_client", 401)
    assert refused(world.http.post("/oauth/device_authorization", data=no_grant.auth()), "unauthorized_client")
    scope = world.http.post("/oauth/device_authorization", data=device.auth() | {"scope": "no-such-scope"})
    assert refused(scope, "invalid_scope")
    wrong_secret = {"client_id": confidential.client_id, "client_secret": "sek_cs_wrong"}
    assert refused(world.http.post("/oauth/device_authorization", data=wrong_secret), "invalid_client", 401)
    assert start(world, confidential)["device_code"]  # the secret in the body, as at the token endpoint
    basic = world.http.post(
        "/oauth/device_authorization",
        data={"scope": "read:account"},
        auth=(confidential.client_id, confidential.client_secret or ""),
    )
    assert basic.status_code == 200, basic.text
    no_scope = world.http.post("/oauth/device_authorization", data=device.auth())
    assert refused(no_scope, "invalid_scope")  # as at /authorize: required when the client has no scopes of its own


def test_the_whole_flow(world: World, device: Device) -> None:
    started = start(world, device)
    assert refused(poll(world, device, started["device_code"]), "authorization_pending")
    # Entered in lower case, without the dash, with spaces: the same code.
    typed = started["user_code"].lower().replace("-", " ")
    consent = enter(world, typed)
    assert consent.status_code == 200, consent.text
    assert 'name="decision" value="allow"' in consent.text and "Living Room TV" in consent.text
    assert started["user_code"] in consent.text  # the person checks it against the device's
    assert re.findall(r'data-scope="([^"]+)"', consent.text) == ["read:account", "write:notes"]
    done = world.http.post("/device", data=hidden_fields(consent.text) | {"decision": "allow"})
    assert done.status_code == 200 and "return to your device" in done.text
    world.clock.advance(5)
    answer = poll(world, device, started["device_code"])
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["scope"] == "read:account write:notes" and tokens["refresh_token"]
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert "Living Room TV" in world.http.get("/settings/apps").text
    # Single use: the code is spent.
    world.clock.advance(5)
    assert refused(poll(world, device, started["device_code"]), "invalid_grant")
    # The refresh token works as any other.
    refreshed = world.http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]} | device.auth()
    )
    assert refreshed.status_code == 200, refreshed.text


def test_jwt_access_tokens_too(database: str) -> None:
    settings = Settings(issuer=ISSUER, database=database, access_token_format="jwt")
    with make_world(database, settings) as world:
        world.login()
        device = register(world)
        started = start(world, device)
        decide(world, started["user_code"], "allow")
        tokens = poll(world, device, started["device_code"]).json()
        assert tokens["access_token"].count(".") == 2 and tokens["refresh_token"]
        me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200 and me.json()["username"] == "alice"


def test_resource_indicators_bind_the_device_tokens(database: str) -> None:
    """RFC 8707 on the device grant (issue 25): the resources named at the device authorization endpoint are
    checked there (`invalid_target`), shown on the consent page and become the access token's audience; the token
    request may narrow them, never widen them, and a refused one spends nothing."""
    mcp, other = "https://mcp.example/mcp", "https://other.example/api"
    settings = Settings(issuer=ISSUER, database=database, access_token_format="jwt", resources=(mcp, other))
    with make_world(database, settings) as world:
        world.login()
        device = register(world)
        stranger = {"scope": "read:account", "resource": "https://stranger.example/"}
        assert refused(world.http.post("/oauth/device_authorization", data=device.auth() | stranger), "invalid_target")
        started = start(world, device, resource=mcp)
        consent = enter(world, started["user_code"])
        assert consent.status_code == 200 and mcp in consent.text
        world.http.post("/device", data=hidden_fields(consent.text) | {"decision": "allow"})
        ask = {"grant_type": DEVICE_CODE_GRANT, "device_code": started["device_code"]} | device.auth()
        assert refused(world.http.post("/oauth/token", data=ask | {"resource": other}), "invalid_target")
        world.clock.advance(5)
        answer = world.http.post("/oauth/token", data=ask | {"resource": mcp})
        assert answer.status_code == 200, answer.text
        payload = answer.json()["access_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["aud"] == mcp
        # The issuer's own API refuses a token meant for another resource.
        me = world.http.post("/api/i", headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
        assert me.status_code == 401


def test_no_refresh_token_without_the_grant(world: World) -> None:
    world.login()
    device = register(world, grants=(DEVICE_CODE_GRANT,))
    started = start(world, device)
    decide(world, started["user_code"], "allow")
    body = poll(world, device, started["device_code"]).json()
    assert "access_token" in body and "refresh_token" not in body


def test_slow_down_raises_the_interval(world: World, device: Device) -> None:
    started = start(world, device)
    assert refused(poll(world, device, started["device_code"]), "authorization_pending")
    world.clock.advance(2)
    assert refused(poll(world, device, started["device_code"]), "slow_down")
    assert interval(world, started["user_code"]) == 10  # RFC 8628 §3.5: 5 seconds more, from now on
    world.clock.advance(6)  # the old interval is not enough any more
    assert refused(poll(world, device, started["device_code"]), "slow_down")
    assert interval(world, started["user_code"]) == 15
    world.clock.advance(15)
    assert refused(poll(world, device, started["device_code"]), "authorization_pending")
    assert interval(world, started["user_code"]) == 15


def interval(world: World, user_code: str) -> int:
    [(found,)] = sql.rows(
        world.database, "SELECT interval FROM device_codes WHERE user_code = :c", c=normalize_user_code(user_code)
    )
    return int(found)


def test_denied_is_access_denied(world: World, device: Device) -> None:
    started = start(world, device)
    done = decide(world, started["user_code"], "deny")
    assert done.status_code == 200 and "Access denied" in done.text
    assert refused(poll(world, device, started["device_code"]), "access_denied")
    assert refused(poll(world, device, started["device_code"]), "access_denied")


def test_an_app_revoked_before_the_poll_gets_nothing(world: World, device: Device) -> None:
    started = start(world, device)
    decide(world, started["user_code"], "allow")
    apps = world.http.get("/settings/apps")
    revoked = world.http.post(
        "/settings/apps/revoke",
        data={"client_id": device.client_id, "csrf_token": csrf_of(apps.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert refused(poll(world, device, started["device_code"]), "access_denied")
    assert sql.count(world.database, "access_tokens") == 0


def test_expired_is_expired_token(world: World, device: Device) -> None:
    started = start(world, device)
    world.clock.advance(600)
    assert refused(poll(world, device, started["device_code"]), "expired_token")
    page = enter(world, started["user_code"])
    assert page.status_code == 400 and "can no longer be used" in page.text


def test_another_clients_code_is_invalid_grant(world: World, device: Device) -> None:
    other = register(world)
    started = start(world, device)
    decide(world, started["user_code"], "allow")
    assert refused(poll(world, other, started["device_code"]), "invalid_grant")
    assert poll(world, device, started["device_code"]).status_code == 200  # the owner's code is untouched


def test_unknown_and_missing_device_codes(world: World, device: Device) -> None:
    assert refused(poll(world, device, "sek_dc_nothing"), "invalid_grant")
    missing = world.http.post("/oauth/token", data={"grant_type": DEVICE_CODE_GRANT} | device.auth())
    assert refused(missing, "invalid_request")


def test_a_client_without_the_grant_cannot_poll(world: World, device: Device) -> None:
    started = start(world, device)
    answer = world.http.post(
        "/oauth/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": started["device_code"],
            "client_id": world.public.client_id,
        },
    )
    assert refused(answer, "unauthorized_client")


def test_decision_by_get_is_refused(world: World, device: Device) -> None:
    started = start(world, device)
    page = world.http.get("/device", params={"user_code": started["user_code"], "decision": "allow"})
    assert page.status_code == 400 and "POST" in page.text
    assert refused(poll(world, device, started["device_code"]), "authorization_pending")


def test_decision_needs_the_csrf_token(world: World, device: Device) -> None:
    started = start(world, device)
    consent = enter(world, started["user_code"])
    form = hidden_fields(consent.text) | {"decision": "allow", "csrf_token": "forged"}
    assert world.http.post("/device", data=form).status_code == 400
    assert refused(poll(world, device, started["device_code"]), "authorization_pending")


def test_a_used_code_cannot_be_decided_again(world: World, device: Device) -> None:
    started = start(world, device)
    decide(world, started["user_code"], "deny")
    page = enter(world, started["user_code"])
    assert page.status_code == 400 and "can no longer be used" in page.text


def test_the_page_asks_to_sign_in_first(world: World, device: Device) -> None:
    world.http.post("/logout", data={"csrf_token": csrf_of(world.http.get("/").text)})
    started = start(world, device)
    response = world.http.get(started["verification_uri_complete"], follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fdevice%3Fuser_code%3D")
    world.login()
    page = world.http.get(started["verification_uri_complete"])
    assert page.status_code == 200 and f'value="{started["user_code"]}"' in page.text  # prefilled, not submitted


def test_a_wrong_code_is_named(world: World, device: Device) -> None:
    for wrong in ("BBBB-BBBB", "AAAA-AAAA", "short", "x" * 5000):
        page = enter(world, wrong)
        assert page.status_code == 400 and "not valid" in page.text


def test_entries_are_throttled(world: World, device: Device) -> None:
    started = start(world, device)
    statuses = [enter(world, "BBBB-BBBB").status_code for _ in range(12)]
    assert statuses == [400] * 11 + [429]  # ten free, the eleventh starts a block of a minute
    page = enter(world, started["user_code"])  # the right code waits too: a known code cannot reset the count
    assert page.status_code == 429 and page.headers["retry-after"] == "60" and "Too many codes" in page.text
    world.clock.advance(60)
    assert enter(world, started["user_code"]).status_code == 200  # counted too, and the block doubles
    world.clock.advance(1)
    assert enter(world, "BBBB-BBBB").headers["retry-after"] == "119"


def test_an_address_over_its_ceiling_is_slowed_not_refused(world: World) -> None:
    """30 entries from one address (three accounts' worth), then each waits, as a login does, and none is refused:
    people behind one proxy share an address."""
    accounts = [register_user(world, f"user{number}") for number in range(4)]
    for username in accounts:
        world.login(username)
        statuses = [enter(world, "BBBB-BBBB").status_code for _ in range(9)]
        assert statuses == [400] * 9
        world.http.post("/logout", data={"csrf_token": csrf_of(world.http.get("/").text)})
    assert world.clock.slept == [1, 2, 4, 8, 10, 10]  # entries 31 to 36 from the address


def register_user(world: World, username: str) -> str:
    async def add() -> None:
        store = await SqlStore.open(world.database)
        try:
            await create_user(store, username, PASSWORD, 1_700_000_000)
        finally:
            await store.close()

    asyncio.run(add())
    return username


def test_purge_takes_expired_device_codes(world: World, device: Device) -> None:
    from sekisho.server.purge import purge

    start(world, device)

    async def run() -> dict[str, int]:
        store = await SqlStore.open(world.database)
        try:
            return await purge(store, int(world.clock.now) + 601)
        finally:
            await store.close()

    assert asyncio.run(run())["device_codes"] == 1
    assert sql.count(world.database, "device_codes") == 0
