"""DPoP at a resource server (RFC 9449 §7): the Starlette and FastAPI adapters take `Authorization: DPoP` with a
proof, refuse a bound token as Bearer, answer DPoP challenges, and can require nonces."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

import pytest
from fastapi import FastAPI, Security
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.testclient import TestClient

from sekisho.protocol import dpop
from sekisho.resource import TokenInfo
from sekisho.resource.dpop import DPoPGate
from sekisho.resource.fastapi import Bearer
from sekisho.resource.starlette import BearerBackend, on_auth_error
from tests.resource.conftest import StaticVerifier
from tests.resource.test_starlette import ROUTES

KEY = ECKey.generate_key("P-256")
BOUND = TokenInfo("client-1", "user-1", ("read:account",), 1_900_000_000, jkt=KEY.thumbprint())
PLAIN = TokenInfo("client-1", "user-1", ("read:account",), 1_900_000_000)
URL = "http://testserver/me"


def proof(token: str, key: ECKey = KEY, url: str = URL, nonce: str | None = None, method: str = "GET") -> str:
    jti = secrets.token_urlsafe(12)
    return dpop.sign(key, method=method, url=url, now=int(time.time()), jti=jti, access_token=token, nonce=nonce)


def starlette_app(gate: DPoPGate | None = None) -> TestClient:
    verifier = StaticVerifier({"bound": BOUND, "plain": PLAIN})
    backend = BearerBackend(verifier, dpop=gate)
    middleware = [Middleware(AuthenticationMiddleware, backend=backend, on_error=on_auth_error)]
    return TestClient(Starlette(routes=ROUTES, middleware=middleware))


FASTAPI_BEARER = Bearer(StaticVerifier({"bound": BOUND, "plain": PLAIN}))


async def fastapi_me(info: Annotated[TokenInfo, Security(FASTAPI_BEARER, scopes=["read:account"])]) -> dict[str, str]:
    return {"client": info.client_id}


def fastapi_app() -> TestClient:
    app = FastAPI()
    app.add_api_route("/me", fastapi_me, methods=["GET"])
    return TestClient(app)


@pytest.mark.parametrize("make", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def test_a_bound_token_needs_its_proof_and_is_refused_as_bearer(make: object) -> None:
    http = make()  # type: ignore[operator]
    assert http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": proof("bound")}).status_code == 200
    as_bearer = http.get("/me", headers={"Authorization": "Bearer bound"})
    assert as_bearer.status_code == 401
    assert 'DPoP realm="sekisho", algs="ES256"' in as_bearer.headers["www-authenticate"]
    assert http.get("/me", headers={"Authorization": "Bearer plain"}).status_code == 200
    once = proof("bound")
    cases = {
        "no proof": {},
        "another key": {"DPoP": proof("bound", ECKey.generate_key("P-256"))},
        "another token": {"DPoP": proof("plain")},
        "another URL": {"DPoP": proof("bound", url="http://testserver/notes")},
        "another method": {"DPoP": proof("bound", method="POST")},
    }
    assert http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": once}).status_code == 200
    cases["replayed"] = {"DPoP": once}
    for name, extra in cases.items():
        response = http.get("/me", headers={"Authorization": "DPoP bound", **extra})
        assert response.status_code == 401, name
        assert "DPoP" in response.headers["www-authenticate"], name
    # a bearer token presented as DPoP is not bound to the proof's key
    assert http.get("/me", headers={"Authorization": "DPoP plain", "DPoP": proof("plain")}).status_code == 401


def test_a_proof_error_is_a_dpop_challenge() -> None:
    http = starlette_app()
    response = http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": "not.a.proof"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"
    assert response.headers["www-authenticate"].startswith('DPoP realm="sekisho", error="invalid_dpop_proof"')


def test_nonces_when_the_gate_asks_for_them() -> None:
    http = starlette_app(DPoPGate(nonce_secret=b"n" * 32))
    first = http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": proof("bound")})
    assert first.status_code == 401 and first.json()["error"] == "use_dpop_nonce"
    assert 'error="use_dpop_nonce"' in first.headers["www-authenticate"]
    nonce = first.headers["DPoP-Nonce"]
    second = http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": proof("bound", nonce=nonce)})
    assert second.status_code == 200


def test_the_gate_checks_htu_at_the_public_url() -> None:
    http = starlette_app(DPoPGate(public_url="https://api.example"))
    behind_proxy = proof("bound", url="https://api.example/me")
    assert http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": behind_proxy}).status_code == 200
    assert http.get("/me", headers={"Authorization": "DPoP bound", "DPoP": proof("bound")}).status_code == 401
