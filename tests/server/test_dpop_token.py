"""DPoP (RFC 9449) at the token endpoint: bound tokens, introspection's `cnf`, a public client's refresh bound to
its key, replayed proofs, server nonces, and the metadata."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx2 import Response
from joserfc.jwk import ECKey

from sekisho.protocol import dpop
from sekisho.server.settings import Settings
from tests.conftest import ISSUER, REDIRECT_URI, World, hidden_fields, make_world
from tests.live import cli
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


def test_the_demo_api_asks_for_the_token_endpoints_nonces(nonce_world: World) -> None:
    """Under --dpop-nonce the demo API, like the token endpoint, wants a server nonce in each proof (RFC 9449 §9):
    a proof without one, or with a forged or stale one, gets 401 `use_dpop_nonce` and a fresh `DPoP-Nonce`; the
    token endpoint's nonce is good at the API too (one secret, one server)."""
    world, key = nonce_world, ECKey.generate_key("P-256")
    code, verifier = world.code()
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT_URI}
    nonce = post_token(world, data, proof(world, key)).headers["DPoP-Nonce"]
    issued = post_token(world, data, proof(world, key, nonce=nonce))
    token = issued.json()["access_token"]

    def call(proof_nonce: str | None, url: str = API_URL, method: str = "POST") -> Response:
        jti = secrets.token_urlsafe(12)
        made = dpop.sign(
            key, method=method, url=url, now=int(world.clock()), jti=jti, access_token=token, nonce=proof_nonce
        )
        headers = {"Authorization": f"DPoP {token}", "DPoP": made}
        if method == "GET":
            return world.http.get(url.removeprefix(ISSUER), headers=headers)
        return world.http.post(url.removeprefix(ISSUER), json={}, headers=headers)

    for sent in (None, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
        refused = call(sent)
        assert refused.status_code == 401, refused.text
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("DPoP ") and 'error="use_dpop_nonce"' in challenge
        assert refused.headers["DPoP-Nonce"]
    assert call(nonce).status_code == 200  # the token endpoint's nonce
    assert call(refused.headers["DPoP-Nonce"]).status_code == 200  # the API's own
    x = call(nonce, X_URL, "GET")
    assert x.status_code == 403 and "users.read" in x.text, x.text  # the X dialect asks for it too, then the scope
    world.clock.advance(3 * dpop.NONCE_STEP)
    stale = call(nonce)
    assert stale.status_code == 401 and stale.headers["DPoP-Nonce"] != nonce


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


# the demo API (RFC 9449 §7): DPoP tokens with proofs; a bound token never as Bearer

API_URL = f"{ISSUER}/api/i"
X_URL = f"{ISSUER}/2/users/me"


def api_proof(world: World, key: ECKey, token: str, method: str = "POST", url: str = API_URL) -> str:
    jti = secrets.token_urlsafe(12)
    return dpop.sign(key, method=method, url=url, now=int(world.clock()), jti=jti, access_token=token)


def test_the_demo_api_takes_a_dpop_token_with_its_proof_and_refuses_it_as_bearer(signed_in: World) -> None:
    world, key = signed_in, ECKey.generate_key("P-256")
    token = exchange(world, proof(world, key)).json()["access_token"]
    good = world.http.post(
        "/api/i", json={}, headers={"Authorization": f"DPoP {token}", "DPoP": api_proof(world, key, token)}
    )
    assert good.status_code == 200, good.text
    as_bearer = world.http.post("/api/i", json={}, headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    assert 'DPoP realm="sekisho", algs="ES256"' in as_bearer.headers["www-authenticate"]
    in_body = world.http.post("/api/i", json={"i": token})  # Misskey's body token is a bearer one
    assert in_body.status_code == 401
    x = world.http.get("/2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert x.status_code == 401
    x = world.http.get(
        "/2/users/me", headers={"Authorization": f"DPoP {token}", "DPoP": api_proof(world, key, token, "GET", X_URL)}
    )
    assert x.status_code == 403 and "users.read" in x.text, x.text  # past the proof; the scope is what is missing


def test_the_demo_api_refuses_bad_proofs_with_a_dpop_challenge(signed_in: World) -> None:
    world, key = signed_in, ECKey.generate_key("P-256")
    token = exchange(world, proof(world, key)).json()["access_token"]
    once = api_proof(world, key, token)
    cases = {
        "no proof": None,
        "other key": api_proof(world, ECKey.generate_key("P-256"), token),
        "other token (ath)": api_proof(world, key, "another-token"),
        "other method": api_proof(world, key, token, method="GET"),
        "other URL": api_proof(world, key, token, url=f"{ISSUER}/api/notes/create"),
    }
    assert (
        world.http.post("/api/i", json={}, headers={"Authorization": f"DPoP {token}", "DPoP": once}).status_code == 200
    )
    cases["replayed"] = once
    for name, header in cases.items():
        headers = {"Authorization": f"DPoP {token}"} | ({} if header is None else {"DPoP": header})
        response = world.http.post("/api/i", json={}, headers=headers)
        assert response.status_code == 401, name
        assert (
            response.headers["www-authenticate"].startswith("DPoP") or "DPoP" in response.headers["www-authenticate"]
        ), name


def test_a_bearer_token_still_works_as_bearer(signed_in: World) -> None:
    world = signed_in
    token = exchange(world, None).json()["access_token"]
    assert world.http.post("/api/i", json={}, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_client_added_with_require_dpop_needs_a_proof(world: World) -> None:
    """`sekisho client add --require-dpop`: a token request without a proof is refused."""
    added = cli(
        "client", "add", "--name", "bot", "--grant-type", "client_credentials", "--require-dpop", "--json",
        database=world.database,
    )  # fmt: skip
    bot = json.loads(added.stdout)
    listed = json.loads(cli("client", "list", "--json", database=world.database).stdout)
    assert [row["require_dpop"] for row in listed if row["client_id"] == bot["client_id"]] == [True]
    auth = (bot["client_id"], bot["client_secret"])
    data = {"grant_type": "client_credentials", "scope": "read:account"}
    refused = world.http.post("/oauth/token", data=data, auth=auth)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    key = ECKey.generate_key("P-256")
    bound = world.http.post("/oauth/token", data=data, auth=auth, headers={"DPoP": proof(world, key)})
    assert bound.status_code == 200 and bound.json()["token_type"] == "DPoP"
    assert introspect(world, bound.json()["access_token"])["cnf"] == {"jkt": key.thumbprint()}


PAR_URL = f"{ISSUER}/oauth/par"


def pushed_code(world: World, dpop_header: str | None = None, **overrides: str) -> tuple[Response, str]:
    """Push a request for the public client (with `dpop_header` as its DPoP proof), consent to it; the push's
    answer and the code with its verifier, `code verifier` (empty when the push was refused)."""
    params = world.authorize_params(world.public.client_id, **overrides)
    headers = {} if dpop_header is None else {"DPoP": dpop_header}
    answer = world.http.post("/oauth/par", data=params, headers=headers)
    if answer.status_code != 201:
        return answer, ""
    query = {"client_id": world.public.client_id, "request_uri": answer.json()["request_uri"]}
    page = world.http.get("/oauth/authorize", params=query, follow_redirects=False)
    form = {**hidden_fields(page.text), "decision": "allow"}
    decided = world.http.post("/oauth/authorize", data=form, follow_redirects=False)
    code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
    return answer, f"{code} {world.verifiers[params['code_challenge']]}"


def exchange_pushed(world: World, code: str, dpop_header: str | None) -> Response:
    code, verifier = code.split(" ")
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT_URI}
    return post_token(world, data, dpop_header)


@pytest.mark.parametrize("how", ["dpop_jkt", "proof", "both"])
def test_a_pushed_request_binds_the_code_to_a_key(signed_in: World, how: str) -> None:
    """RFC 9449 §10.1: `dpop_jkt` in the pushed request, or a DPoP proof sent with the push, or both."""
    world, key, other = signed_in, ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    jkt = {} if how == "proof" else {"dpop_jkt": key.thumbprint()}

    def push() -> str:
        answer, code = pushed_code(world, None if how == "dpop_jkt" else proof(world, key, PAR_URL), **jkt)
        assert answer.status_code == 201, answer.text
        return code

    for wrong in (proof(world, other), None):  # another key's proof, or none: the code is refused
        refused = exchange_pushed(world, push(), wrong)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    code = push()
    bound = exchange_pushed(world, code, proof(world, key))
    assert bound.status_code == 200 and bound.json()["token_type"] == "DPoP"


def test_a_push_whose_proof_and_dpop_jkt_differ_is_refused(signed_in: World) -> None:
    world, key, other = signed_in, ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    answer, _ = pushed_code(world, proof(world, key, PAR_URL), dpop_jkt=other.thumbprint())
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_dpop_proof"
    once = proof(world, key, PAR_URL)
    assert pushed_code(world, once)[0].status_code == 201
    replayed, _ = pushed_code(world, once)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_dpop_proof"
    wrong_url, _ = pushed_code(world, proof(world, key))  # a proof made for the token endpoint
    assert wrong_url.status_code == 400 and wrong_url.json()["error"] == "invalid_dpop_proof"


def test_the_nonce_dance_at_the_push(nonce_world: World) -> None:
    world, key = nonce_world, ECKey.generate_key("P-256")
    first, _ = pushed_code(world, proof(world, key, PAR_URL))
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    second, code = pushed_code(world, proof(world, key, PAR_URL, nonce=nonce))
    assert second.status_code == 201 and second.headers["DPoP-Nonce"]
    assert exchange_pushed(world, code, proof(world, key, nonce=nonce)).json()["token_type"] == "DPoP"
    plain, _ = pushed_code(world)  # no proof at the push: no nonce asked for (dpop_jkt and the exchange's proof)
    assert plain.status_code == 201
