"""The official MCP TypeScript SDK's client (npm `@modelcontextprotocol/sdk`, its client auth), unmodified, against
the example MCP server examples/mcp_notes protected by a real `sekisho serve`; the user's part in Chromium.

tests/mcp_ts/client.mjs is the app around the SDK (see its header); it prints the authorization URL the SDK made,
this test signs in as alice and allows in Chromium, the browser lands on the app's loopback listener, and the SDK
finishes: code with PKCE and `resource`, `post_note` (the note shows on /@alice), then a refresh (with `resource`)
and another call. npm installs tests/mcp_ts with `npm ci` when needed (tests/node.py); without npm these tests skip
on a developer machine and fail in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.interop.mcp_world import SCOPES, McpWorld, audience, consent_in_chromium, mcp_world
from tests.live import free_port
from tests.needs import system_node

pytestmark = pytest.mark.e2e

FOLDER = Path(__file__).parent.parent / "mcp_ts"
NODE_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def node_binary() -> str:
    return system_node(FOLDER)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpWorld]:
    with mcp_world(tmp_path_factory.mktemp("mcp-typescript")) as running:
        yield running


def run_client(node_binary: str, scenario: dict[str, Any]) -> dict[str, Any]:
    """client.mjs SCENARIO: consent in Chromium when it prints AUTHORIZE, then its RESULT."""
    redirect_uri = f"http://127.0.0.1:{scenario['callbackPort']}/callback"
    with (
        tempfile.TemporaryFile("w+") as errors,
        subprocess.Popen(
            [node_binary, str(FOLDER / "client.mjs"), json.dumps(scenario)],
            cwd=FOLDER,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        try:
            assert process.stdout is not None
            authorized = 0
            for line in process.stdout:
                if line.startswith("AUTHORIZE "):
                    authorized += 1
                    url = line.removeprefix("AUTHORIZE ").strip()
                    asyncio.run(consent_in_chromium(url, redirect_uri=redirect_uri))
                elif line.startswith("RESULT "):
                    assert process.wait(timeout=NODE_TIMEOUT) == 0
                    assert authorized == 1  # one sign-in, however many connections
                    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
                    return result
            process.wait(timeout=NODE_TIMEOUT)
            errors.seek(0)
            raise AssertionError(f"client.mjs ended ({process.returncode}) without a result:\n{errors.read()}")
        finally:
            if process.poll() is None:
                process.kill()


def short(world: McpWorld, requests: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    steps = []
    for request in requests:
        url = request["url"]
        for base, name in ((world.sekisho.url, "AS"), (world.mcp_url.removesuffix("/mcp"), "MCP")):
            if url.startswith(base):
                url = name + " " + urlsplit(url).path
        steps.append((request["method"], url, request["status"]))
    return steps


def check(world: McpWorld, out: dict[str, Any], *, registered: bool) -> None:
    flow = short(world, out["requests"])
    discovery = [
        ("POST", "MCP /mcp", 401),
        ("GET", "MCP /.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "AS /.well-known/oauth-authorization-server", 200),
    ]
    assert flow[: len(discovery)] == discovery, flow
    assert (("POST", "AS /oauth/register", 201) in flow) == registered, flow
    tokens = [request["form"] for request in out["requests"] if request["url"].endswith("/oauth/token")]
    assert [form["grant_type"] for form in tokens] == ["authorization_code", "refresh_token"], flow
    code, refresh = tokens
    assert code["resource"] == world.mcp_url and len(code["code_verifier"]) >= 43
    assert refresh["resource"] == world.mcp_url
    assert ("POST", "MCP /mcp", 401) in flow[len(discovery) :]  # the refused token, before the refresh

    (authorization_url,) = out["authorizationUrls"]
    query = parse_qs(urlsplit(authorization_url).query)
    assert query["resource"] == [world.mcp_url]
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"][0].split() == SCOPES
    first, second = out["tokens"]
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert audience(first["access_token"]) == audience(second["access_token"]) == [world.mcp_url]  # RFC 8707

    assert out["posted"]["url"] == f"{world.sekisho.url}/@alice"
    assert out["listed"]["result"][0]["text"] == out["posted"]["text"]
    page = world.user_page()
    assert out["posted"]["text"] in page and out["afterRefresh"]["text"] in page
    assert "Traceback" not in world.output()


def test_typescript_sdk_registers_dynamically_and_posts_a_note(node_binary: str, world: McpWorld) -> None:
    text = f"posted through MCP (typescript) {secrets.token_hex(4)}"
    out = run_client(node_binary, {"mcpUrl": world.mcp_url, "callbackPort": free_port(), "text": text})
    assert not out["client"]["client_id"].startswith("https://")
    check(world, out, registered=True)


def test_typescript_sdk_with_a_client_id_metadata_document(node_binary: str, world: McpWorld) -> None:
    port = free_port()
    path = f"/mcp-ts-{secrets.token_hex(4)}.json"
    client_id = world.client_document(path, f"http://127.0.0.1:{port}/callback", "MCP TypeScript SDK (document)")
    text = f"posted through MCP (typescript, document) {secrets.token_hex(4)}"
    scenario = {"mcpUrl": world.mcp_url, "callbackPort": port, "clientMetadataUrl": client_id, "text": text}
    out = run_client(node_binary, scenario)
    assert out["client"]["client_id"] == client_id
    check(world, out, registered=False)
    assert any(entry.path == path for entry in world.pages.log)
