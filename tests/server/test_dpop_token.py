"""DPoP (RFC 9449) at the token endpoint: bound tokens, introspection's `cnf`, a public client's refresh bound to
its key, replayed proofs, server nonces, and the metadata."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx2 import Response
from joserfc.jwk import ECKey

from sekisho.protocol import dpop
from sekisho.server.settings import Settings
from tests.conftest import ISSUER, REDIRECT_URI, World, make_world
from tests.server.test_jwt_access_tokens import decode
from tests.server.test_revoke_introspect import introspect

TOKEN_URL = f"{ISSUER}/oauth/token"


def proof(world: World, key: ECKey, url: str = TOKEN_URL, nonce: str | None = None, **extra: str) -> str:
    return dpop.sign(key, method="POST", url=url, now=int(world.clock()), jti=secrets.token_urlsafe(12), nonce=nonce)


def post_token(world: World, data: dict[str, str], dpop_header: str | None) -> Response:
    headers = {} if dpop_header is None else {"DPoP": dpop_header}
    return world.http.post("/oauth/token", data={"client_id": world.public.client_id, **data}, headers=headers)


def exchange(world: World, dpop_header: str | None, **extra: str) -> Response:
    code, verifier = world.code(**extra)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT_URI}
    return post_token(world, data, dpop_header)


def refresh(world: World, refresh_token: object, dpop_header: str | None) -> Response:
    return post_token(world, {"grant_type": "refresh_token", "refresh_token": str(refresh_token)}, dpop_header)


@pytest.fixture
def signed_in(world: World) -> World:
    world.login()
    return world


def test_a_proof_at_the_exchange_binds_the_tokens(signed_in: World) -> None:
    world, key = signed_in, ECKey.generate_key("P-256")
    response = exchange(world, proof(world, key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    seen = introspect(world, body["access_token"])
    assert seen["token_type"] == "DPoP" and seen["cnf"] == {"jkt": key.thumbprint()}
    # without a proof, the token is a bearer one as ever
    plain = exchange(world, None).json()
    assert plain["token_type"] == "Bearer" and "cnf" not in introspect(world, plain["access_token"])


def test_a_public_clients_refresh_needs_a_proof_with_the_same_key(signed_in: World) -> None:
    world, key = signed_in, ECKey.generate_key("P-256")
    first = exchange(world, proof(world, key)).json()
    assert refresh(world, first["refresh_token"], None).json()["error"] == "invalid_grant"
    other = ECKey.generate_key("P-256")
    assert refresh(world, first["refresh_token"], proof(world, other)).json()["error"] == "invalid_grant"
    second = refresh(world, first["refresh_token"], proof(world, key))
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP"
    # the successor is bound too
    assert refresh(world, second.json()["refresh_token"], None).json()["error"] == "invalid_grant"
    assert refresh(world, second.json()["refresh_token"], proof(world, key)).status_code == 200


def test_dpop_jkt_binds_the_code_to_a_key(signed_in: World) -> None:
    world, key, other = signed_in, ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    refused = exchange(world, proof(world, other), dpop_jkt=key.thumbprint())
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    refused = exchange(world, None, dpop_jkt=key.thumbprint())
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert exchange(world, proof(world, key), dpop_jkt=key.thumbprint()).json()["token_type"] == "DPoP"


def test_a_replayed_proof_is_refused(signed_in: World) -> None:
    world, key = signed_in, ECKey.generate_key("P-256")
    once = proof(world, key)
    assert exchange(world, once).status_code == 200
    again = exchange(world, once)
    assert again.status_code == 400 and again.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("garbage", "not.a.proof"),
        ("other URL", "other"),
        ("two headers", "two"),
    ],
)
def test_a_bad_proof_is_invalid_dpop_proof(signed_in: World, name: str, header: str) -> None:
    world, key = signed_in, ECKey.generate_key("P-256")
    code, verifier = world.code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
        "client_id": world.public.client_id,
    }
    headers: list[tuple[str, str]]
    if header == "other":
        headers = [("DPoP", proof(world, key, url=f"{ISSUER}/oauth/revoke"))]
    elif header == "two":
        headers = [("DPoP", proof(world, key)), ("DPoP", proof(world, key))]
    else:
        headers = [("DPoP", header)]
    response = world.http.post("/oauth/token", data=data, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_dpop_proof", response.text
    assert exchange(world, proof(world, key)).status_code == 200  # the code was not consumed: another one works


@pytest.fixture
def nonce_world(tmp_path: Path) -> Iterator[World]:
    database = f"sqlite:///{tmp_path / 'nonce.db'}"
    with make_world(database, Settings(issuer=ISSUER, database=database, dpop_nonce=True)) as running:
        running.login()
        yield running


def test_the_nonce_dance(nonce_world: World) -> None:
    world, key = nonce_world, ECKey.generate_key("P-256")
    code, verifier = world.code()
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT_URI}
    first = post_token(world, data, proof(world, key))
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    forged = post_token(world, data, proof(world, key, nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    assert forged.json()["error"] == "use_dpop_nonce"
    second = post_token(world, data, proof(world, key, nonce=nonce))
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP" and second.headers["DPoP-Nonce"]
    world.clock.advance(3 * dpop.NONCE_STEP)  # the nonce is stale now: a fresh one is asked for
    stale = refresh(world, second.json()["refresh_token"], proof(world, key, nonce=nonce))
    assert stale.json()["error"] == "use_dpop_nonce" and stale.headers["DPoP-Nonce"] != nonce


def test_jwt_access_tokens_carry_cnf(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'jwt.db'}"
    with make_world(database, Settings(issuer=ISSUER, database=database, access_token_format="jwt")) as world:
        world.login()
        key = ECKey.generate_key("P-256")
        body = exchange(world, proof(world, key)).json()
        assert decode(world, body["access_token"]).claims["cnf"] == {"jkt": key.thumbprint()}


def test_metadata_advertises_es256(world: World) -> None:
    assert world.http.get("/.well-known/oauth-authorization-server").json()["dpop_signing_alg_values_supported"] == [
        "ES256"
    ]
