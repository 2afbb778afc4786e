"""notes_server.py's HTTP answers before any tool runs, in process, with a stand-in for the sekisho verifier: the
challenge and metadata an MCP client discovers sekisho by, refusals, and a 503 when tokens cannot be checked.
tests/interop/test_mcp_python.py and test_mcp_typescript.py run it for real, against `sekisho serve`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.mcp_notes.notes_server import Settings, create_app
from starlette.testclient import TestClient

from sekisho.errors import InvalidToken
from sekisho.resource import TokenInfo, VerifierUnavailable

ISSUER = "http://127.0.0.1:8000"
URL = "http://127.0.0.1:8001/mcp"
METADATA = "http://127.0.0.1:8001/.well-known/oauth-protected-resource/mcp"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Host": "127.0.0.1:8001"}


class Verifier:
    """Answers by the token: `good`, `narrow` (no write:notes), `down` (sekisho unreachable); anything else invalid."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def verify(self, token: str) -> TokenInfo:
        self.asked.append(token)
        if token == "down":
            raise VerifierUnavailable("connection refused")
        scopes = {"good": ("read:account", "write:notes"), "narrow": ("read:account",)}
        if token not in scopes:
            raise InvalidToken("the access token is meant for another audience")
        return TokenInfo("client", "user-1", scopes[token], int(time.time()) + 600)


@pytest.fixture
def verifier() -> Verifier:
    return Verifier()


@pytest.fixture
def client(verifier: Verifier, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(issuer=ISSUER, url=URL, database=f"sqlite:///{tmp_path / 'sekisho.db'}")
    with TestClient(create_app(settings, verifier), base_url="http://127.0.0.1:8001") as running:
        yield running


def post(client: TestClient, token: str | None = None) -> tuple[int, dict[str, str], str]:
    headers = {**HEADERS, **({"Authorization": f"Bearer {token}"} if token else {})}
    response = client.post("/mcp", json=INITIALIZE, headers=headers)
    return response.status_code, dict(response.headers), response.text


def test_no_token_is_a_401_that_points_at_the_protected_resource_metadata(client: TestClient) -> None:
    status, headers, _ = post(client)
    assert status == 401
    assert headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert f'resource_metadata="{METADATA}"' in headers["www-authenticate"]
    metadata = client.get("/.well-known/oauth-protected-resource/mcp")
    assert metadata.status_code == 200
    assert metadata.json() == {
        "resource": URL,
        "authorization_servers": [ISSUER],  # no trailing slash: clients compare it with the issuer exactly
        "scopes_supported": ["read:account", "write:notes"],
        "bearer_methods_supported": ["header"],
    }


def test_a_token_the_verifier_refuses_is_a_401(client: TestClient, verifier: Verifier) -> None:
    status, headers, _ = post(client, "for-another-resource")
    assert status == 401 and f'resource_metadata="{METADATA}"' in headers["www-authenticate"]
    assert verifier.asked == ["for-another-resource"]  # once: the guard's answer is the SDK's


def test_a_token_without_the_scopes_is_a_403(client: TestClient) -> None:
    status, headers, _ = post(client, "narrow")
    assert status == 403 and 'error="insufficient_scope"' in headers["www-authenticate"]


def test_a_good_token_reaches_the_mcp_server(client: TestClient, verifier: Verifier) -> None:
    status, _, body = post(client, "good")
    assert status == 200 and '"serverInfo"' in body
    assert verifier.asked == ["good"]


def test_sekisho_unreachable_is_a_503_not_a_500_nor_a_new_sign_in(client: TestClient) -> None:
    status, headers, body = post(client, "down")
    assert status == 503 and headers["retry-after"].isdigit()
    assert '"error":"temporarily_unavailable"' in body.replace(" ", "")
    assert "www-authenticate" not in headers  # a 401 would send the client to sign in again
