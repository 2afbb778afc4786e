"""`--access-token-format jwt`: RFC 9068 access tokens, the JWKS, and key rotation.

The tokens are checked with joserfc alone, given only the published JWKS, as a third party would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from sekisho.protocol.jwt_access import MAX_LEEWAY
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import SIGNER_MEMORY, rotate
from sekisho.server.store.sql import SqlStore
from tests.conftest import ISSUER, World, make_world
from tests.server.test_client_credentials import add_client, grant


@pytest.fixture
def jwt_world(tmp_path: Path) -> Iterator[World]:
    database = f"sqlite:///{tmp_path / 'jwt.db'}"
    with make_world(database, Settings(issuer=ISSUER, database=database, access_token_format="jwt")) as running:
        yield running


def jwks(world: World) -> KeySet:
    response = world.http.get("/oauth/jwks")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert all("d" not in key for key in body["keys"]), "a private key part was published"
    return KeySet.import_key_set(body)


def decode(world: World, token: object) -> jwt.Token:
    """Plain joserfc: signature with the JWKS, ES256 only; then the RFC 9068 claims by hand."""
    decoded = jwt.decode(str(token), jwks(world), algorithms=["ES256"])
    registry = jwt.JWTClaimsRegistry(
        now=int(world.clock()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": ISSUER},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
        client_id={"essential": True},
    )
    registry.validate(decoded.claims)
    return decoded


def rotate_keys(world: World) -> str:
    async def run() -> str:
        store = await SqlStore.open(world.database)
        try:
            return (await rotate(store, int(world.clock()))).kid
        finally:
            await store.close()

    return asyncio.run(run())


def test_access_tokens_are_rfc_9068_jwts(jwt_world: World) -> None:
    jwt_world.login()
    tokens = jwt_world.tokens()
    assert str(tokens["refresh_token"]).startswith("sek_rt_")  # refresh tokens stay opaque
    decoded = decode(jwt_world, tokens["access_token"])
    assert decoded.header["typ"] == "at+jwt" and decoded.header["alg"] == "ES256"
    claims = decoded.claims
    assert claims["client_id"] == jwt_world.public.client_id
    assert claims["scope"] == "read:account write:notes" == tokens["scope"]
    assert claims["exp"] - claims["iat"] == tokens["expires_in"] == 3600
    me = jwt_world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == claims["sub"]


def test_refresh_and_client_credentials_tokens_are_jwts_too(jwt_world: World) -> None:
    jwt_world.login()
    tokens = jwt_world.tokens()
    refreshed = jwt_world.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": jwt_world.public.client_id,
        },
    ).json()
    first, second = decode(jwt_world, tokens["access_token"]), decode(jwt_world, refreshed["access_token"])
    assert first.claims["sub"] == second.claims["sub"] and first.claims["jti"] != second.claims["jti"]
    machine = add_client(jwt_world, public=False, grant_types=["client_credentials"])
    body = grant(jwt_world, machine.client_id, machine.client_secret, scope="read:account")
    claims = decode(jwt_world, body["access_token"]).claims
    assert claims["sub"] == machine.client_id == claims["client_id"]  # RFC 9068 §2.2: no user, the client


def test_revocation_and_introspection_see_jwt_tokens(jwt_world: World) -> None:
    jwt_world.login()
    tokens = jwt_world.tokens()
    api = jwt_world.resource_server
    assert api.client_secret
    auth = (api.client_id, api.client_secret)
    info = jwt_world.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth).json()
    assert info["active"] is True and info["username"] == "alice"
    revoke = jwt_world.http.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "client_id": jwt_world.public.client_id}
    )
    assert revoke.status_code == 200
    assert jwt_world.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth).json() == {
        "active": False
    }
    me = jwt_world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401 and 'error="invalid_token"' in me.headers["www-authenticate"]


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(jwt_world: World) -> None:
    jwt_world.login()
    old = jwt_world.tokens()
    old_kid = decode(jwt_world, old["access_token"]).header["kid"]
    new_kid = rotate_keys(jwt_world)
    assert new_kid != old_kid
    jwt_world.clock.advance(SIGNER_MEMORY)  # every process has read the keys again
    new = jwt_world.tokens()
    assert decode(jwt_world, new["access_token"]).header["kid"] == new_kid
    assert decode(jwt_world, old["access_token"]).header["kid"] == old_kid  # still published, still valid
    assert {key.kid for key in jwks(jwt_world)} == {old_kid, new_kid}
    jwt_world.clock.advance(3600 + 300)  # every token of the old key has expired, with the most skew allowed
    assert {key.kid for key in jwks(jwt_world)} == {new_kid}


def test_a_retired_key_stays_published_while_a_token_it_signed_from_memory_lives(jwt_world: World) -> None:
    """Issue 22 item 1: the in-statement key check (and the token endpoint's retry it needed) is gone; a process
    signs with the key it read up to SIGNER_MEMORY seconds ago, so the JWKS keeps a retired key that much longer."""
    jwt_world.login()
    old_kid = decode(jwt_world, jwt_world.tokens()["access_token"]).header["kid"]  # the app reads the key now
    new_kid = rotate_keys(jwt_world)
    jwt_world.clock.advance(SIGNER_MEMORY - 1)
    late = decode(jwt_world, jwt_world.tokens()["access_token"])  # signed from memory with the retired key
    assert late.header["kid"] == old_kid
    jwt_world.clock.advance(3600 + MAX_LEEWAY)  # the late token's expiry plus the most skew a verifier may allow
    assert late.claims["exp"] + MAX_LEEWAY == int(jwt_world.clock())  # a verifier may still accept it
    assert {key.kid for key in jwks(jwt_world)} == {old_kid, new_kid}
    jwt_world.clock.advance(1)
    assert {key.kid for key in jwks(jwt_world)} == {new_kid}
    assert decode(jwt_world, jwt_world.tokens()["access_token"]).header["kid"] == new_kid


def test_client_credentials_sign_with_a_rotated_key_once_keys_are_read_again(jwt_world: World) -> None:
    machine = add_client(jwt_world, public=False, grant_types=["client_credentials"])
    assert machine.client_secret
    first = grant(jwt_world, machine.client_id, machine.client_secret, scope="read:account")
    second = grant(jwt_world, machine.client_id, machine.client_secret, scope="read:account")
    old_kid = decode(jwt_world, first["access_token"]).header["kid"]
    assert decode(jwt_world, second["access_token"]).header["kid"] == old_kid
    new_kid = rotate_keys(jwt_world)
    jwt_world.clock.advance(SIGNER_MEMORY)
    after = grant(jwt_world, machine.client_id, machine.client_secret, scope="read:account")
    assert after["_status"] == 200 and decode(jwt_world, after["access_token"]).header["kid"] == new_kid
    introspected = jwt_world.http.post(
        "/oauth/introspect", data={"token": after["access_token"]}, auth=(machine.client_id, machine.client_secret)
    ).json()
    assert introspected["active"] is True  # and it was stored


def test_metadata_names_the_jwks_only_in_jwt_mode(jwt_world: World, world: World) -> None:
    assert jwt_world.http.get("/.well-known/oauth-authorization-server").json()["jwks_uri"] == f"{ISSUER}/oauth/jwks"
    assert "jwks_uri" not in world.http.get("/.well-known/oauth-authorization-server").json()
    assert world.http.get("/oauth/jwks").json() == {"keys": []}
    world.login()
    assert str(world.tokens()["access_token"]).startswith("sek_at_")
