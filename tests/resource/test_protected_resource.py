"""Protected resource metadata (RFC 9728): the document, its well-known paths, and the `resource_metadata` of every
challenge, in the Starlette and FastAPI adapters and in `sekisho serve`'s demo API."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from fastapi.testclient import TestClient as FastApiClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.testclient import TestClient

from sekisho.resource import ProtectedResource, TokenInfo
from sekisho.resource.fastapi import Bearer, protected_resource_router
from sekisho.resource.starlette import BearerBackend, on_auth_error, protected_resource_routes
from tests.conftest import ISSUER, World
from tests.resource.conftest import StaticVerifier, bearer, challenge
from tests.resource.test_starlette import MACHINE, READER, ROUTES

NOTES = ProtectedResource(
    resource="https://notes.example/mcp",
    authorization_servers=("https://auth.example",),
    scopes_supported=("read:account", "write:notes"),
    resource_name="Notes",
    resource_documentation="https://notes.example/docs",
)
METADATA_URL = "https://notes.example/.well-known/oauth-protected-resource/mcp"


def test_the_document_and_where_it_lives() -> None:
    assert NOTES.metadata() == {
        "resource": "https://notes.example/mcp",
        "authorization_servers": ["https://auth.example"],
        "scopes_supported": ["read:account", "write:notes"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes",
        "resource_documentation": "https://notes.example/docs",
    }
    assert NOTES.well_known_paths == (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    )
    assert NOTES.metadata_url == METADATA_URL
    root = ProtectedResource("http://127.0.0.1:8000", ("http://127.0.0.1:8000",))
    assert root.well_known_paths == ("/.well-known/oauth-protected-resource",)
    assert root.metadata_url == "http://127.0.0.1:8000/.well-known/oauth-protected-resource"
    assert root.metadata() == {
        "resource": "http://127.0.0.1:8000",
        "authorization_servers": ["http://127.0.0.1:8000"],
        "bearer_methods_supported": ["header"],
    }
    slash = ProtectedResource("https://api.example/", ("https://auth.example",))  # RFC 9728 §3.1: the slash goes
    assert slash.metadata_url == "https://api.example/.well-known/oauth-protected-resource"


@pytest.mark.parametrize(
    "resource",
    ["/mcp", "notes.example/mcp", "ftp://notes.example/", "https://notes.example/mcp#x", "https://notes.example/?a=1"],
)
def test_a_resource_that_is_not_an_https_url_is_refused(resource: str) -> None:
    with pytest.raises(ValueError, match="resource"):
        ProtectedResource(resource, ("https://auth.example",))


def test_servers_and_scopes_are_sequences_not_strings() -> None:
    with pytest.raises(ValueError, match="sequences"):
        ProtectedResource("https://a.example", "https://auth.example")  # type: ignore[arg-type]


@pytest.fixture
def starlette_http() -> TestClient:
    verifier = StaticVerifier({"reader": READER, "machine": MACHINE})
    backend = BearerBackend(verifier, resource=NOTES)
    middleware = [Middleware(AuthenticationMiddleware, backend=backend, on_error=on_auth_error)]
    return TestClient(Starlette(routes=[*ROUTES, *protected_resource_routes(NOTES)], middleware=middleware))


def check_document(http: TestClient | FastApiClient) -> None:
    for path in NOTES.well_known_paths:
        response = http.get(path)
        assert response.status_code == 200 and response.json() == NOTES.metadata()
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["content-type"] == "application/json"


def test_starlette_serves_the_document(starlette_http: TestClient) -> None:
    check_document(starlette_http)
    assert starlette_http.post(NOTES.well_known_paths[0]).status_code == 405


def test_every_starlette_challenge_names_the_metadata(starlette_http: TestClient) -> None:
    anonymous = challenge(starlette_http.get("/me"), 401, "invalid_token")
    assert anonymous["resource_metadata"] == METADATA_URL and anonymous["scope"] == "read:account"
    bad = challenge(starlette_http.get("/me", headers=bearer("nope")), 401, "invalid_token")  # on_auth_error
    assert bad["resource_metadata"] == METADATA_URL
    short = challenge(starlette_http.post("/notes", headers=bearer("reader")), 403, "insufficient_scope")
    assert short["resource_metadata"] == METADATA_URL and short["scope"] == "write:notes"
    assert starlette_http.get("/me", headers=bearer("reader")).status_code == 200


fastapi_verifier = StaticVerifier({"reader": READER, "machine": MACHINE})
guard = Bearer(fastapi_verifier, resource=NOTES)
api = FastAPI()
api.include_router(protected_resource_router(NOTES))


@api.get("/me")
async def me(info: Annotated[TokenInfo, Security(guard, scopes=["read:account"])]) -> dict[str, Any]:
    return {"user": info.user_id}


@api.post("/notes", status_code=201)
async def post_note(info: Annotated[TokenInfo, Security(guard, scopes=["read:account", "write:notes"])]) -> str:
    return "posted"


def test_fastapi_serves_the_document_and_names_it_in_every_challenge() -> None:
    http = FastApiClient(api)
    check_document(http)
    assert not any("well-known" in path for path in api.openapi()["paths"])
    for headers in ({}, bearer("nope")):
        params = challenge(http.get("/me", headers=headers), 401, "invalid_token", in_detail=True)
        assert params["resource_metadata"] == METADATA_URL and params["scope"] == "read:account"
    params = challenge(http.post("/notes", headers=bearer("reader")), 403, "insufficient_scope", in_detail=True)
    assert params["resource_metadata"] == METADATA_URL and params["scope"] == "write:notes"
    assert http.post("/notes", headers=bearer("machine")).status_code == 201


def test_the_demo_api_describes_itself(world: World) -> None:
    """`sekisho serve`'s demo API: its metadata at the issuer's well-known path, named by each of its challenges."""
    response = world.http.get("/.well-known/oauth-protected-resource")
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    assert document["resource"] == ISSUER and document["authorization_servers"] == [ISSUER]
    assert {"read:account", "write:notes", "tweet.write"} <= set(document["scopes_supported"])
    assert document["bearer_methods_supported"] == ["header"]
    url = ISSUER + "/.well-known/oauth-protected-resource"
    misskey = world.http.post("/api/i", headers=bearer("nope"))
    assert misskey.status_code == 401 and f'resource_metadata="{url}"' in misskey.headers["www-authenticate"]
    x = world.http.get("/2/users/me")
    assert x.status_code == 401 and f'resource_metadata="{url}"' in x.headers["www-authenticate"]
    assert 'scope="users.read"' in x.headers["www-authenticate"]
    world.login()
    tokens = world.exchange(*world.code(scope="read:account"))
    short = world.http.post("/api/notes/create", json={"text": "hi"}, headers=bearer(str(tokens["access_token"])))
    assert short.status_code == 403 and f'resource_metadata="{url}"' in short.headers["www-authenticate"]
