"""The client's DPoP pieces (RFC 9449): proofs the server's own check accepts, the key kept only in the account's
file, the nonce retried exactly once at the token endpoint and at a resource, and Bearer where there is no key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey

from sekisho.client import dpop, oauth
from sekisho.client.auth import SekishoAuth, StaticToken, challenge_error
from sekisho.client.errors import TokenError, TokenStoreError
from sekisho.client.login import LoginOptions
from sekisho.client.login import prover_for as login_prover
from sekisho.client.oauth import ClientCredentials, TokenSet
from sekisho.client.providers import Api, Endpoints
from sekisho.client.token_store import Account, TokenStore
from sekisho.errors import InvalidDPoPProof
from sekisho.protocol import dpop as protocol
from tests.client.conftest import run

NOW = 1_800_000_000
TOKEN_URL = "https://as.example/oauth/token"
API = "https://api.example/api/i"
PUBLIC = ClientCredentials("app")


def account(key: ECKey | None, token_type: str = "DPoP") -> Account:
    return Account(
        name="alice@as.example",
        provider="sekisho",
        issuer="https://as.example",
        api_base="https://api.example/api",
        token_endpoint=TOKEN_URL,
        revocation_endpoint=None,
        credentials=PUBLIC,
        tokens=TokenSet("sek_at_one", token_type, NOW + 3600.0, "sek_rt_one", "read:account"),
        dpop_key=key,
    )


def prover(nonces: dict[str, str] | None = None) -> dpop.Prover:
    return dpop.Prover(dpop.new_key(), nonces, clock=lambda: NOW)


def test_a_proof_passes_the_servers_own_check() -> None:
    signer = prover({"https://as.example": "n-1"})
    proof = signer.proof("post", TOKEN_URL + "?ignored=1", access_token="sek_at_one")
    checked = protocol.check(proof, method="POST", url=TOKEN_URL, now=NOW, access_token="sek_at_one")
    assert checked.jkt == signer.jkt and checked.nonce == "n-1" and checked.issued_at == NOW
    again = protocol.check(signer.proof("POST", TOKEN_URL), method="POST", url=TOKEN_URL, now=NOW)
    assert again.jti != checked.jti  # a fresh jti for every proof (§4.2)
    with pytest.raises(InvalidDPoPProof, match="htm"):
        protocol.check(signer.proof("GET", TOKEN_URL), method="POST", url=TOKEN_URL, now=NOW)
    with pytest.raises(InvalidDPoPProof, match="htu"):
        protocol.check(signer.proof("POST", API), method="POST", url=TOKEN_URL, now=NOW)


def test_nonces_are_kept_per_server() -> None:
    signer = prover()
    assert signer.remember(TOKEN_URL, {"DPoP-Nonce": "as-nonce"})
    assert not signer.remember(API, {})
    assert not signer.remember(API, {"DPoP-Nonce": "x" * 600})  # unreasonably long: ignored
    assert not signer.remember(API, {"DPoP-Nonce": "line\nbreak"})
    assert protocol.check(signer.proof("GET", API), method="GET", url=API, now=NOW).nonce is None
    proof = signer.proof("POST", "HTTPS://AS.EXAMPLE/oauth/token")
    assert protocol.check(proof, method="POST", url=TOKEN_URL, now=NOW).nonce == "as-nonce"


def test_the_private_key_is_in_the_file_and_nowhere_else(tmp_path: Path) -> None:
    key = dpop.new_key()
    saved = account(key)
    private = dpop.key_to_json(key)["d"]
    assert private not in repr(saved) and private not in repr(saved.prover()) and private not in str(saved)
    store = TokenStore(tmp_path / "accounts")
    store.save(saved)
    path = store.path_of(saved.name)
    assert path.stat().st_mode & 0o777 == 0o600 and private in path.read_text()
    loaded = store.load(saved.name)
    assert loaded.dpop_key is not None and loaded.dpop_key.thumbprint() == key.thumbprint()
    assert loaded.tokens == saved.tokens


@pytest.mark.parametrize(
    "bad",
    [
        "not a key",
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "d": "AAAA"},
        {"kty": "oct", "k": "AAAA"},
        "public",
        "P-384",
    ],
)
def test_a_damaged_key_is_a_damaged_file(tmp_path: Path, bad: object) -> None:
    key = dpop.new_key()
    if bad == "public":
        bad = key.as_dict(private=False)
    elif bad == "P-384":
        bad = ECKey.generate_key("P-384", private=True).as_dict(private=True)
    store = TokenStore(tmp_path / "accounts")
    store.save(account(key))
    path = store.path_of("alice@as.example")
    body = json.loads(path.read_text())
    path.write_text(json.dumps(body | {"dpop_key": bad}))
    with pytest.raises(TokenStoreError, match="dpop_key"):
        store.load("alice@as.example")


def test_a_dpop_token_without_its_key_is_a_damaged_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "accounts")
    store.save(account(dpop.new_key()))
    path = store.path_of("alice@as.example")
    body = json.loads(path.read_text())
    del body["dpop_key"]
    path.write_text(json.dumps(body))
    with pytest.raises(TokenStoreError, match="dpop_key is missing"):
        store.load("alice@as.example")


def test_a_dpop_token_is_taken_only_after_sending_a_proof() -> None:
    body = {"access_token": "sek_at_one", "token_type": "DPoP", "expires_in": 60}
    assert oauth.parse_token_response(body, NOW, dpop=True).token_type == "DPoP"
    assert oauth.parse_token_response(body | {"token_type": "bearer"}, NOW, dpop=True).token_type == "Bearer"
    with pytest.raises(TokenError, match="'DPoP' token"):
        oauth.parse_token_response(body, NOW)


Handler = Callable[[httpx.Request], httpx.Response]


def token_endpoint(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(httpx.Request(request.method, request.url, headers=request.headers.copy()))  # as sent then
        return answers[len(seen) - 1]

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def use_nonce(nonce: str, status: int = 400) -> httpx.Response:
    body = {"error": "use_dpop_nonce", "error_description": "a nonce is required"}
    return httpx.Response(status, json=body, headers={"DPoP-Nonce": nonce})


TOKENS = httpx.Response(200, json={"access_token": "sek_at_two", "token_type": "DPoP", "refresh_token": "sek_rt_two"})


def test_the_token_endpoint_nonce_is_retried_once_and_remembered() -> None:
    seen: list[httpx.Request] = []
    signer = prover()

    async def go() -> TokenSet:
        async with token_endpoint([use_nonce("n-1"), TOKENS, TOKENS], seen) as http:
            first = await oauth.refresh(http, TOKEN_URL, PUBLIC, "sek_rt_one", now=NOW, prover=signer)
            await oauth.refresh(http, TOKEN_URL, PUBLIC, "sek_rt_two", now=NOW, prover=signer)
            return first

    assert run(go()).token_type == "DPoP"
    nonces = [protocol.check(r.headers["DPoP"], method="POST", url=TOKEN_URL, now=NOW).nonce for r in seen]
    assert nonces == [None, "n-1", "n-1"]  # the next request starts with the nonce it knows


def test_a_second_nonce_refusal_is_not_retried() -> None:
    seen: list[httpx.Request] = []

    async def go() -> None:
        async with token_endpoint([use_nonce("n-1"), use_nonce("n-2"), TOKENS], seen) as http:
            await oauth.refresh(http, TOKEN_URL, PUBLIC, "sek_rt_one", now=NOW, prover=prover())

    with pytest.raises(TokenError, match="use_dpop_nonce"):
        run(go())
    assert len(seen) == 2


@pytest.mark.parametrize(("nonce", "with_proof"), [("", True), ("n-1", False)], ids=["no-nonce", "no-proof"])
def test_a_nonce_refusal_without_a_nonce_or_a_proof_is_not_retried(nonce: str, with_proof: bool) -> None:
    seen: list[httpx.Request] = []
    signer = prover() if with_proof else None

    async def go() -> None:
        async with token_endpoint([use_nonce(nonce), TOKENS], seen) as http:
            await oauth.refresh(http, TOKEN_URL, PUBLIC, "sek_rt_one", now=NOW, prover=signer)

    with pytest.raises(TokenError):
        run(go())
    assert len(seen) == 1 and ("DPoP" in seen[0].headers) is with_proof


def resource(answers: list[httpx.Response], seen: list[httpx.Request], auth: httpx.Auth) -> int:
    async def go() -> int:
        async with token_endpoint(answers, seen) as http:
            return (await http.post(API, json={}, auth=auth)).status_code

    return run(go())


def dpop_challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'DPoP error="{error}", error_description="nonce", algs="ES256"'}


def test_a_dpop_token_goes_with_a_proof_of_its_key() -> None:
    seen: list[httpx.Request] = []
    signer = prover()
    saved = account(signer.key)
    assert resource([httpx.Response(200, json={})], seen, StaticToken(saved.tokens, signer)) == 200
    [request] = seen
    assert request.headers["Authorization"] == "DPoP sek_at_one"
    checked = protocol.check(request.headers["DPoP"], method="POST", url=API, now=NOW, access_token="sek_at_one")
    assert checked.jkt == signer.jkt


def test_a_resources_nonce_challenge_is_answered_once(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "accounts")
    signer = prover()
    store.save(account(signer.key))
    auth = SekishoAuth(store, "alice@as.example", clock=lambda: NOW)
    nonce = httpx.Response(401, headers=dpop_challenge("use_dpop_nonce") | {"DPoP-Nonce": "rs-1"})
    seen: list[httpx.Request] = []
    assert resource([nonce, httpx.Response(200, json={})], seen, auth) == 200
    proofs = [
        protocol.check(r.headers["DPoP"], method="POST", url=API, now=NOW, access_token="sek_at_one") for r in seen
    ]
    assert [proof.nonce for proof in proofs] == [None, "rs-1"] and proofs[0].jti != proofs[1].jti
    seen.clear()
    assert resource([nonce, nonce, httpx.Response(200)], seen, auth) == 401  # once only
    assert len(seen) == 2


def test_an_account_without_a_key_stays_bearer(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "accounts")
    store.save(account(None, "Bearer"))
    seen: list[httpx.Request] = []
    nonce = httpx.Response(401, headers=dpop_challenge("use_dpop_nonce") | {"DPoP-Nonce": "rs-1"})
    assert resource([nonce], seen, SekishoAuth(store, "alice@as.example", clock=lambda: NOW)) == 401
    [request] = seen
    assert request.headers["Authorization"] == "Bearer sek_at_one" and "DPoP" not in request.headers


@pytest.mark.parametrize(
    ("header", "scheme", "error"),
    [
        ('DPoP error="use_dpop_nonce"', "dpop", "use_dpop_nonce"),
        ('Bearer error="invalid_token", DPoP algs="ES256"', "dpop", None),
        ('Bearer error="invalid_token", DPoP algs="ES256"', "bearer", "invalid_token"),
        ('Bearer realm="x", DPoP error="invalid_dpop_proof", algs="ES256"', "dpop", "invalid_dpop_proof"),
        ("dpop  error = use_dpop_nonce", "dpop", "use_dpop_nonce"),
        ("", "dpop", None),
    ],
)
def test_challenges_are_read_per_scheme(header: str, scheme: str, error: str | None) -> None:
    response = httpx.Response(401, headers={"WWW-Authenticate": header})
    assert challenge_error(response, scheme) == error


def endpoints(algorithms: tuple[str, ...], *, miauth: bool = False) -> Endpoints:
    return Endpoints(
        api=Api("sekisho", "https://as.example", "https://as.example/api"),
        authorization_endpoint="https://as.example/oauth/authorize",
        token_endpoint=TOKEN_URL,
        revocation_endpoint=None,
        expected_iss="https://as.example",
        iss_required=True,
        accepts_url_client_ids=False,
        miauth=miauth,
        dpop_algorithms=algorithms,
    )


@pytest.mark.parametrize(
    ("algorithms", "options", "miauth", "uses_dpop"),
    [
        (("ES256",), LoginOptions(), False, True),
        (("EdDSA", "ES256"), LoginOptions(device=True), False, True),
        ((), LoginOptions(), False, False),  # a server without DPoP: Bearer as ever
        (("EdDSA",), LoginOptions(), False, False),  # DPoP, but not with ES256
        (("ES256",), LoginOptions(dpop=False), False, False),  # --no-dpop
        (("ES256",), LoginOptions(), True, False),  # MiAuth tokens are never DPoP-bound
    ],
)
def test_a_login_uses_dpop_where_offered_with_es256(
    algorithms: tuple[str, ...], options: LoginOptions, miauth: bool, uses_dpop: bool
) -> None:
    made = login_prover(options, endpoints(algorithms, miauth=miauth))
    assert (made is not None) is uses_dpop
    if made is not None:
        assert made.key.is_private and made.jkt == made.key.thumbprint()
