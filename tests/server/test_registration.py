"""Dynamic client registration (RFC 7591) at POST /oauth/register: the policies (off, open, token), the metadata
rules (those of `sekisho client add`), and a registered client going through the code flow, refresh and revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from sekisho.server.registration import add_initial_token
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests.conftest import ISSUER, World, make_world

LOOPBACK = "http://127.0.0.1/callback"
PUBLIC = {"client_name": "Notes Agent", "redirect_uris": [LOOPBACK], "token_endpoint_auth_method": "none"}


def settings(database: str, policy: str, **extra: Any) -> Settings:
    return Settings(issuer=ISSUER, database=database, registration=policy, **extra)  # type: ignore[arg-type]


@pytest.fixture
def open_world(database: str) -> Iterator[World]:
    with make_world(database, settings(database, "open")) as running:
        yield running


def register(world: World, metadata: object, **headers: str) -> Any:
    return world.http.post("/oauth/register", json=metadata, headers=headers)


def initial_token(world: World, *, expires_in: int | None = 3600, uses: int | None = 1) -> str:
    async def add() -> str:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            return await add_initial_token(store, int(world.clock()), expires_in=expires_in, uses=uses)
        finally:
            await store.close()

    return asyncio.run(add())


# ---------------------------------------------------------------- policies


def test_off_is_the_default_the_path_is_not_served_nor_advertised(world: World) -> None:
    assert "registration_endpoint" not in world.http.get("/.well-known/oauth-authorization-server").json()
    assert register(world, PUBLIC).status_code == 404
    assert world.http.options("/oauth/register").status_code in (404, 405)


def test_open_registers_a_public_client_advertised_in_metadata(open_world: World) -> None:
    metadata = open_world.http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["registration_endpoint"] == f"{ISSUER}/oauth/register"
    response = register(open_world, PUBLIC)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"] and "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["client_id_issued_at"] == int(open_world.clock())
    assert body["client_name"] == "Notes Agent"
    assert body["redirect_uris"] == [LOOPBACK]
    assert body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]
    assert "scope" not in body


def test_a_confidential_client_gets_a_secret_shown_once(open_world: World) -> None:
    metadata = {**PUBLIC, "token_endpoint_auth_method": "client_secret_basic", "scope": "read:account nope"}
    body = register(open_world, metadata).json()
    assert body["client_secret"].startswith("sek_cs_") and body["client_secret_expires_at"] == 0
    assert body["scope"] == "read:account"  # unknown scopes are dropped, as at the authorization endpoint


def test_a_registered_client_completes_the_code_flow_refresh_and_revocation(open_world: World) -> None:
    metadata = {**PUBLIC, "grant_types": ["authorization_code", "refresh_token"]}
    client_id = register(open_world, metadata).json()["client_id"]
    open_world.login()
    params = open_world.authorize_params(client_id, redirect_uri="http://127.0.0.1:53111/callback")
    page = open_world.http.get("/oauth/authorize", params=params)
    assert page.status_code == 200 and "Notes Agent" in page.text  # the consent page names the app
    query = open_world.consent(params)
    tokens = open_world.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "code_verifier": open_world.verifiers[params["code_challenge"]],
            "redirect_uri": params["redirect_uri"],
            "client_id": client_id,
        },
    ).json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    refreshed = open_world.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
    ).json()
    assert refreshed["access_token"]
    revoked = open_world.http.post("/oauth/revoke", data={"token": refreshed["refresh_token"], "client_id": client_id})
    assert revoked.status_code == 200
    again = open_world.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"], "client_id": client_id},
    )
    assert again.json()["error"] == "invalid_grant"
