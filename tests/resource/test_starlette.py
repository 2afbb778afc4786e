"""The Starlette adapter: BearerBackend, on_auth_error and require_scope in a small app of their own."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sekisho.resource import TokenInfo
from sekisho.resource.starlette import BearerBackend, on_auth_error, require_scope, token_info
from tests.resource.conftest import StaticVerifier, bearer, challenge

READER = TokenInfo("client-1", "user-1", ("read:account",), 1_900_000_000)
MACHINE = TokenInfo("machine-1", None, ("read:account", "write:notes"), 1_900_000_000)


async def public_page(request: Request) -> JSONResponse:
    return JSONResponse({"authenticated": request.user.is_authenticated, "scopes": request.auth.scopes})


@require_scope("read:account")
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.display_name, "client": token_info(request).client_id})


@require_scope("read:account", "write:notes")
async def post_note(request: Request) -> JSONResponse:
    return JSONResponse({"posted": True}, status_code=201)


ROUTES = [
    Route("/", public_page),
    Route("/me", me),
    Route("/notes", post_note, methods=["POST"]),
]


@pytest.fixture
def verifier() -> StaticVerifier:
    return StaticVerifier({"reader": READER, "machine": MACHINE})


@pytest.fixture
def http(verifier: StaticVerifier) -> TestClient:
    middleware = [Middleware(AuthenticationMiddleware, backend=BearerBackend(verifier), on_error=on_auth_error)]
    return TestClient(Starlette(routes=ROUTES, middleware=middleware))


def test_a_valid_token_with_the_scope_passes(http: TestClient) -> None:
    response = http.get("/me", headers=bearer("reader"))
    assert response.status_code == 200 and response.json() == {"user": "user-1", "client": "client-1"}
    assert http.get("/me", headers=bearer("machine")).json()["user"] == "machine-1"
    assert http.post("/notes", headers=bearer("machine")).status_code == 201


def test_no_token_is_anonymous_until_a_scope_is_required(http: TestClient) -> None:
    assert http.get("/").json() == {"authenticated": False, "scopes": []}
    assert http.get("/", headers=bearer("reader")).json() == {"authenticated": True, "scopes": ["read:account"]}
    challenge(http.get("/me"), 401, "invalid_token")


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer", "Basic cmVhZGVyOg==", "Bearer reader extra", "reader"])
def test_a_bad_token_is_401_invalid_token_everywhere(http: TestClient, header: str) -> None:
    for path in ("/", "/me"):
        params = challenge(http.get(path, headers={"Authorization": header}), 401, "invalid_token")
        assert "scope" not in params


def test_a_missing_scope_is_403_naming_it(http: TestClient) -> None:
    params = challenge(http.post("/notes", headers=bearer("reader")), 403, "insufficient_scope")
    assert params["scope"] == "write:notes"


def test_a_token_in_the_query_string_is_never_read(http: TestClient) -> None:
    challenge(http.get("/me", params={"access_token": "reader"}), 401, "invalid_token")
    challenge(http.get("/me", params={"access_token": "reader"}, headers=bearer("nope")), 401, "invalid_token")
    assert http.get("/", params={"access_token": "reader"}).json()["authenticated"] is False


def test_an_unavailable_verifier_is_503_without_a_challenge(http: TestClient, verifier: StaticVerifier) -> None:
    verifier.down = True
    response = http.get("/me", headers=bearer("reader"))
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert "www-authenticate" not in response.headers


def test_require_scope_without_the_middleware_fails_loudly() -> None:
    with TestClient(Starlette(routes=ROUTES)) as http, pytest.raises(AssertionError):
        http.get("/me", headers=bearer("reader"))
