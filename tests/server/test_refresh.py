"""The refresh_token grant: rotation, reuse detection, narrowing, binding, idle and absolute expiry (RFC 6749 §6)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from httpx2 import Response

from sekisho.errors import InvalidClient, InvalidGrant
from sekisho.protocol.params import TokenRequest
from sekisho.server.entities import Client
from sekisho.server.grants import GrantContext, refresh_token
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import SIGNER_MEMORY, Signer
from sekisho.server.store.sql import SqlStore
from sekisho.server.token import Minted
from tests.conftest import ISSUER, Registered, World, make_world
from tests.server.test_jwt_access_tokens import decode, rotate_keys
from tests.server.test_token import remove_client

DAY = 24 * 3600


@pytest.fixture
def signed_in(world: World) -> World:
    world.login()
    return world


def refresh(world: World, refresh_token: object, client: Registered | None = None, **extra: str) -> Response:
    client = client or world.public
    data = {"grant_type": "refresh_token", "refresh_token": str(refresh_token), **extra}
    if client.client_secret:
        return world.http.post("/oauth/token", data=data, auth=(client.client_id, client.client_secret))
    return world.http.post("/oauth/token", data={**data, "client_id": client.client_id})


def ok(response: Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body: dict[str, object] = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    return body


def refused(response: Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    assert response.json()["error"] == error


def api(world: World, access_token: object, path: str = "/api/i", **body: str) -> int:
    response = world.http.post(path, headers={"Authorization": f"Bearer {access_token}"}, json=body)
    return response.status_code


# rotation and reuse


def test_refresh_rotates_the_refresh_token(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    second = ok(refresh(world, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert str(second["refresh_token"]).startswith("sek_rt_")
    assert second["scope"] == first["scope"] == "read:account write:notes"
    assert api(world, second["access_token"]) == 200
    third = ok(refresh(world, second["refresh_token"]))
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3


def test_a_rotated_refresh_token_is_refused(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    ok(refresh(world, first["refresh_token"]))
    refused(refresh(world, first["refresh_token"]), "invalid_grant")


def test_reuse_of_a_rotated_token_revokes_the_whole_family(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    second = ok(refresh(world, first["refresh_token"]))
    third = ok(refresh(world, second["refresh_token"]))
    assert api(world, third["access_token"]) == 200
    refused(refresh(world, first["refresh_token"]), "invalid_grant")  # the attacker's (or victim's) stale copy
    # Every token of the grant is dead now: the newest access and refresh tokens included.
    for tokens in (first, second, third):
        assert api(world, tokens["access_token"]) == 401
    refused(refresh(world, third["refresh_token"]), "invalid_grant")
    refused(refresh(world, second["refresh_token"]), "invalid_grant")


def test_reuse_does_not_touch_another_grant(signed_in: World) -> None:
    world = signed_in
    mine = world.tokens()
    other = world.tokens()
    ok(refresh(world, mine["refresh_token"]))
    refused(refresh(world, mine["refresh_token"]), "invalid_grant")
    assert api(world, other["access_token"]) == 200
    ok(refresh(world, other["refresh_token"]))


def test_confidential_client_refresh(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code(world.confidential.client_id)
    first = world.exchange(code, verifier, world.confidential)
    second = ok(refresh(world, first["refresh_token"], world.confidential))
    refused(refresh(world, first["refresh_token"], world.confidential), "invalid_grant")
    assert api(world, second["access_token"]) == 401


def test_unknown_and_missing_refresh_token(world: World) -> None:
    refused(refresh(world, "sek_rt_" + "A" * 43), "invalid_grant")
    refused(refresh(world, "garbage"), "invalid_grant")
    response = world.http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "client_id": world.public.client_id}
    )
    refused(response, "invalid_request")


def test_an_access_token_is_not_a_refresh_token(signed_in: World) -> None:
    world = signed_in
    tokens = world.tokens()
    refused(refresh(world, tokens["access_token"]), "invalid_grant")


# scope


def test_scope_may_narrow(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    narrow = ok(refresh(world, first["refresh_token"], scope="read:account"))
    assert narrow["scope"] == "read:account"
    assert api(world, narrow["access_token"]) == 200
    assert api(world, narrow["access_token"], "/api/notes/create", text="hi") == 403
    # RFC 6749 §6: the grant keeps its scope; a later refresh without `scope` gets all of it again.
    full = ok(refresh(world, narrow["refresh_token"]))
    assert full["scope"] == "read:account write:notes"
    assert api(world, full["access_token"], "/api/notes/create", text="hi") == 200


def test_scope_same_as_granted_works(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    same = ok(refresh(world, first["refresh_token"], scope="write:notes read:account"))
    assert set(str(same["scope"]).split()) == {"read:account", "write:notes"}


@pytest.mark.parametrize(
    "scope", ["read:account write:notes tweet.read", "tweet.read", "read:account bogus", "bogus", " ", "READ:ACCOUNT"]
)
def test_scope_may_not_widen(signed_in: World, scope: str) -> None:
    world = signed_in
    first = world.tokens()
    refused(refresh(world, first["refresh_token"], scope=scope), "invalid_scope")
    # A refused request does not use the refresh token up.
    ok(refresh(world, first["refresh_token"]))


# binding


def test_refresh_token_is_bound_to_its_client(signed_in: World) -> None:
    world = signed_in
    public_tokens = world.tokens()
    refused(refresh(world, public_tokens["refresh_token"], world.confidential), "invalid_grant")
    code, verifier = world.code(world.confidential.client_id)
    confidential_tokens = world.exchange(code, verifier, world.confidential)
    refused(refresh(world, confidential_tokens["refresh_token"], world.public), "invalid_grant")


def test_a_confidential_clients_refresh_needs_its_secret(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code(world.confidential.client_id)
    tokens = world.exchange(code, verifier, world.confidential)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    bare = world.http.post("/oauth/token", data={**data, "client_id": world.confidential.client_id})
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_client"
    wrong = world.http.post("/oauth/token", data=data, auth=(world.confidential.client_id, "sek_cs_wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    ok(refresh(world, tokens["refresh_token"], world.confidential))


# expiry


def test_idle_expiry(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    world.clock.advance(30 * DAY - 1)
    second = ok(refresh(world, first["refresh_token"]))  # used just in time: a new idle period starts
    world.clock.advance(30 * DAY - 1)
    third = ok(refresh(world, second["refresh_token"]))
    world.clock.advance(30 * DAY)
    refused(refresh(world, third["refresh_token"]), "invalid_grant")


def test_absolute_expiry(signed_in: World) -> None:
    world = signed_in
    tokens = world.tokens()
    for _ in range(6):  # used every 29 days: never idle, but the grant ages
        world.clock.advance(29 * DAY)
        tokens = ok(refresh(world, tokens["refresh_token"]))
    world.clock.advance(5 * DAY)  # day 179
    tokens = ok(refresh(world, tokens["refresh_token"]))
    world.clock.advance(DAY)  # day 180: the absolute lifetime is over
    refused(refresh(world, tokens["refresh_token"]), "invalid_grant")


def test_access_tokens_expire_after_expires_in(signed_in: World) -> None:
    world = signed_in
    tokens = world.tokens()
    world.clock.advance(3599)
    assert api(world, tokens["access_token"]) == 200
    world.clock.advance(1)
    assert api(world, tokens["access_token"]) == 401
    fresh = ok(refresh(world, tokens["refresh_token"]))
    assert api(world, fresh["access_token"]) == 200


def test_json_body_refresh(signed_in: World) -> None:
    world = signed_in
    first = world.tokens()
    body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": world.public.client_id}
    ok(world.http.post("/oauth/token", json=body))


# the client and the signing key from memory: the rotating write re-checks both in its own statement


def first_tokens(world: World, client: Registered) -> dict[str, object]:
    return world.exchange(*world.code(client.client_id), client)


@pytest.mark.parametrize("which", ["public", "confidential"])
def test_a_removed_clients_refresh_is_invalid_client_at_once(signed_in: World, which: str) -> None:
    world = signed_in
    client: Registered = getattr(world, which)
    first = first_tokens(world, client)
    second = ok(refresh(world, first["refresh_token"], client))  # the app has seen the client (and may remember it)
    remove_client(world, client.client_id)
    gone = refresh(world, second["refresh_token"], client)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_client"


def test_a_wrong_secret_is_refused_though_the_client_is_remembered(signed_in: World) -> None:
    world = signed_in
    client = world.confidential
    second = ok(refresh(world, first_tokens(world, client)["refresh_token"], client))
    data = {"grant_type": "refresh_token", "refresh_token": str(second["refresh_token"])}
    wrong = world.http.post("/oauth/token", data=data, auth=(client.client_id, "sek_cs_wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    bare = world.http.post("/oauth/token", data={**data, "client_id": client.client_id})
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_client"
    ok(refresh(world, second["refresh_token"], client))  # nothing was used up or revoked
    assert api(world, second["access_token"]) == 200


@pytest.fixture
def signed_in_jwt(database: str) -> Iterator[World]:
    with make_world(database, Settings(issuer=ISSUER, database=database, access_token_format="jwt")) as running:
        running.login()
        yield running


def test_refresh_signs_with_a_rotated_key_and_keeps_the_grant(signed_in_jwt: World) -> None:
    world = signed_in_jwt
    first = world.tokens()
    second = ok(refresh(world, first["refresh_token"]))  # the app has read the key (and may remember it)
    old_kid = decode(world, second["access_token"]).header["kid"]
    new_kid = rotate_keys(world)
    world.clock.advance(SIGNER_MEMORY)  # every process has read the keys again
    third = ok(refresh(world, second["refresh_token"]))
    assert decode(world, third["access_token"]).header["kid"] == new_kid != old_kid
    assert decode(world, world.tokens()["access_token"]).header["kid"] == new_kid  # the code exchange too
    # The rotation revoked nothing: the token signed before it still works, and the family goes on.
    assert api(world, second["access_token"]) == 200 and api(world, third["access_token"]) == 200
    ok(refresh(world, third["refresh_token"]))


def test_reuse_revokes_the_grant_and_says_so_once(signed_in: World, caplog: pytest.LogCaptureFixture) -> None:
    world = signed_in
    first = world.tokens()
    second = ok(refresh(world, first["refresh_token"]))
    caplog.set_level(logging.INFO)
    refused(refresh(world, first["refresh_token"]), "invalid_grant")
    events = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "refresh_token_reuse"]
    assert len(events) == 1, events
    assert api(world, second["access_token"]) == 401
    refused(refresh(world, second["refresh_token"]), "invalid_grant")


def refresh_in_store(world: World, value: object, client: Client, *, signer: Signer | None = None) -> Minted:
    """The grant itself, as the token endpoint runs it, against a store of its own."""

    async def run() -> Minted:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            settings = Settings(issuer=ISSUER, database=world.database)
            ctx = GrantContext(store, settings, int(world.clock()), signer)
            return await refresh_token.refresh(TokenRequest("refresh_token", refresh_token=str(value)), client, ctx)
        finally:
            await store.close()

    return asyncio.run(run())


def registered(world: World, client_id: str) -> Client:
    async def find() -> Client | None:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            return await store.clients.find(client_id)
        finally:
            await store.close()

    found = asyncio.run(find())
    assert found is not None
    return found


def test_a_client_changed_since_it_was_read_revokes_nothing(signed_in: World) -> None:
    """Issue 22 item 1: the store's statement finds the client gone and says so; the grant answers invalid_client,
    with no retry, and nothing is consumed or revoked."""
    world = signed_in
    first = first_tokens(world, world.confidential)
    client = registered(world, world.confidential.client_id)
    stale = replace(client, secret_digest="0" * 64)  # as if removed and registered again with another secret
    with pytest.raises(InvalidClient):
        refresh_in_store(world, first["refresh_token"], stale)
    assert api(world, first["access_token"]) == 200  # not taken as a reuse: the grant lives
    ok(refresh(world, first["refresh_token"], world.confidential))  # and the refresh token was not used up


def test_a_reuse_is_decided_once_and_revokes_at_once(signed_in: World) -> None:
    """Issue 22 item 1: a reuse found by the store's one statement revokes the grant in the same request (no
    second pass from the database)."""
    world = signed_in
    first = world.tokens()
    second = ok(refresh(world, first["refresh_token"]))
    client = registered(world, world.public.client_id)
    with pytest.raises(InvalidGrant, match="already used"):
        refresh_in_store(world, first["refresh_token"], client)
    assert api(world, second["access_token"]) == 401
