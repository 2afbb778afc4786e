"""The FastAPI adapter: `Security(Bearer(verifier), scopes=[...])` in a small app of its own."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from fastapi.testclient import TestClient

from sekisho.resource import TokenInfo
from sekisho.resource.fastapi import Bearer
from tests.resource.conftest import StaticVerifier, bearer, challenge
from tests.resource.test_starlette import MACHINE, READER

verifier = StaticVerifier({"reader": READER, "machine": MACHINE})
guard = Bearer(verifier)
app = FastAPI()


@app.get("/me")
async def me(info: Annotated[TokenInfo, Security(guard, scopes=["read:account"])]) -> dict[str, Any]:
    return {"user": info.user_id, "client": info.client_id}


@app.post("/notes", status_code=201)
async def post_note(info: Annotated[TokenInfo, Security(guard, scopes=["read:account", "write:notes"])]) -> str:
    return "posted"


@pytest.fixture
def http() -> TestClient:
    verifier.down = False
    return TestClient(app)


def test_a_valid_token_with_the_scope_passes(http: TestClient) -> None:
    assert http.get("/me", headers=bearer("reader")).json() == {"user": "user-1", "client": "client-1"}
    assert http.post("/notes", headers=bearer("machine")).status_code == 201


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic cmVhZGVyOg==", "Bearer"])
def test_no_or_a_bad_token_is_401_invalid_token(http: TestClient, header: str | None) -> None:
    response = http.get("/me", headers={"Authorization": header} if header else {})
    assert "scope" not in challenge(response, 401, "invalid_token", in_detail=True)


def test_a_missing_scope_is_403_naming_it(http: TestClient) -> None:
    params = challenge(http.post("/notes", headers=bearer("reader")), 403, "insufficient_scope", in_detail=True)
    assert params["scope"] == "write:notes"


def test_a_token_in_the_query_string_is_never_read(http: TestClient) -> None:
    challenge(http.get("/me", params={"access_token": "reader"}), 401, "invalid_token", in_detail=True)


def test_an_unavailable_verifier_is_503(http: TestClient) -> None:
    verifier.down = True
    response = http.get("/me", headers=bearer("reader"))
    assert response.status_code == 503 and response.json()["detail"]["error"] == "temporarily_unavailable"


def test_the_openapi_document_shows_the_bearer_scheme_and_scopes(http: TestClient) -> None:
    document = http.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert document["paths"]["/notes"]["post"]["security"] == [{"bearer": ["read:account", "write:notes"]}]
