"""The official MCP Python SDK's client (PyPI `mcp`, its `OAuthClientProvider`), unmodified, against the example MCP
server examples/mcp_notes protected by a real `sekisho serve`, with the user's part done in Chromium. The provider
is set up as examples/mcp_notes/client.py sets it up (a public client, a loopback redirect), and that script runs
as a command too.

The SDK meets the 401, reads the protected resource metadata (RFC 9728) and sekisho's metadata (RFC 8414),
registers itself (RFC 7591) or names its client ID metadata document, sends the user to sign in and consent, and
redeems the code with PKCE and `resource` (RFC 8707); the tool it calls then posts a note that shows on /@alice.
Then its access token is taken as expired (the SDK's own expiry record), so the SDK refreshes with its refresh
token, again with `resource`, and the next call carries the new token.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2  # the SDK's HTTP client; it comes with mcp
import pytest
from examples.mcp_notes.client import LoopbackRedirect, Memory
from examples.mcp_notes.client import provider as example_provider
from mcp.client import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import Databases
from tests.interop.mcp_world import PASSWORD, SCOPES, USERNAME, McpWorld, audience, consent_in_chromium, mcp_world
from tests.live import cli, user_tokens

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).parents[2] / "examples" / "mcp_notes" / "client.py"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpWorld]:
    with mcp_world(tmp_path_factory.mktemp("mcp-python")) as running:
        yield running


@pytest.fixture(scope="module")
def pg_world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[McpWorld]:
    """The same on PostgreSQL: sekisho serve and the example both on a fresh database of the test cluster."""
    tmp = tmp_path_factory.mktemp("mcp-python-pg")
    with mcp_world(tmp, Databases("postgresql", request).new(tmp, request)) as running:
        yield running


@dataclass
class Run:
    requests: list[tuple[str, str, int, dict[str, str]]]  # method, URL, status, form body (token requests)
    authorization_url: str
    posted: dict[str, Any]
    listed: list[dict[str, Any]]
    after_refresh: dict[str, Any]
    storage: Memory


async def call(
    provider: OAuthClientProvider, url: str, log: list[Any], *calls: tuple[str, dict[str, Any]]
) -> list[Any]:
    """Connect with the SDK through `provider` and call the tools; their structured results."""

    async def record(response: httpx2.Response) -> None:
        request = response.request
        body = request.content.decode() if request.method == "POST" and "token" in request.url.path else ""
        form = {name: values[0] for name, values in parse_qs(body).items()}
        log.append((request.method, str(request.url), response.status_code, form))

    results = []
    try:
        async with (
            httpx2.AsyncClient(auth=provider, event_hooks={"response": [record]}, timeout=30) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for name, arguments in calls:
                result = await session.call_tool(name, arguments)
                assert not result.is_error, result
                results.append(result.structured_content)
    except Exception as error:  # an ExceptionGroup from the SDK's task groups: say which request went wrong
        requests = "\n".join(f"{method} {url} → {status}" for method, url, status, _ in log)
        raise AssertionError(f"the MCP client failed after these requests:\n{requests}") from error
    return results


async def scenario(world: McpWorld, *, client_metadata_url: bool) -> Run:
    storage = Memory()
    seen: list[str] = []
    async with LoopbackRedirect() as redirect:

        async def redirect_handler(authorization_url: str) -> None:
            seen.append(authorization_url)
            await consent_in_chromium(authorization_url, redirect_uri=redirect.redirect_uri)

        metadata_url = None
        if client_metadata_url:
            metadata_url = world.client_document(
                f"/mcp-python-{secrets.token_hex(4)}.json", redirect.redirect_uri, "MCP Python SDK (document)"
            )
        provider = example_provider(
            world.mcp_url, redirect, storage, redirect_handler, client_metadata_url=metadata_url
        )
        text = f"posted through MCP (python) {secrets.token_hex(4)}"
        log: list[Any] = []
        posted, listed = await call(provider, world.mcp_url, log, ("post_note", {"text": text}), ("list_notes", {}))
        assert listed is not None and isinstance(listed["result"], list)  # a list result comes wrapped
        # The access token's lifetime is over as far as the SDK knows: its next request refreshes first.
        provider.context.token_expiry_time = time.time() - 1
        (after_refresh,) = await call(provider, world.mcp_url, log, ("post_note", {"text": text + " again"}))
    assert len(seen) == 1, seen  # one authorization, however many connections
    return Run(log, seen[0], posted, listed["result"], after_refresh, storage)


def steps(run: Run, world: McpWorld) -> list[tuple[str, str, int]]:
    """The requests, their URLs shortened to sekisho's and the MCP server's paths."""
    short = []
    for method, url, status, _ in run.requests:
        for base, name in ((world.sekisho.url, "AS"), (world.mcp_url.removesuffix("/mcp"), "MCP")):
            if url.startswith(base):
                url = name + " " + urlsplit(url).path
        short.append((method, url, status))
    return short


def token_forms(run: Run) -> list[dict[str, str]]:
    return [form for method, url, _, form in run.requests if url.endswith("/oauth/token")]


def check_flow(world: McpWorld, run: Run, *, registered: bool) -> None:
    flow = steps(run, world)
    discovery = [
        ("POST", "MCP /mcp", 401),
        ("GET", "MCP /.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "AS /.well-known/oauth-authorization-server", 200),
    ]
    assert flow[: len(discovery)] == discovery, flow
    after = flow[len(discovery) :]
    if registered:
        assert after[0] == ("POST", "AS /oauth/register", 201), flow
        after = after[1:]
    assert after[0] == ("POST", "AS /oauth/token", 200), flow
    assert after[1] == ("POST", "MCP /mcp", 200), flow  # the first request again, now with the token
    refreshes = [step for step in flow if step == ("POST", "AS /oauth/token", 200)]
    assert len(refreshes) == 2, flow  # the code, then the refresh

    query = parse_qs(urlsplit(run.authorization_url).query)
    assert query["resource"] == [world.mcp_url]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["scope"][0].split() == SCOPES

    code, refresh = token_forms(run)
    assert code["grant_type"] == "authorization_code" and code["resource"] == world.mcp_url
    assert len(code["code_verifier"]) >= 43
    assert refresh["grant_type"] == "refresh_token" and refresh["resource"] == world.mcp_url
    first, second = run.storage.tokens
    assert second.access_token != first.access_token and second.refresh_token != first.refresh_token  # rotated
    assert audience(first.access_token) == audience(second.access_token) == [world.mcp_url]  # RFC 8707
    assert first.token_type.lower() == "bearer" and first.scope and set(first.scope.split()) == set(SCOPES)


def check_notes(world: McpWorld, run: Run) -> None:
    assert run.posted["url"] == f"{world.sekisho.url}/@alice"
    assert run.listed[0]["text"] == run.posted["text"]  # newest first
    page = world.user_page()
    assert run.posted["text"] in page and run.after_refresh["text"] in page
    assert "Traceback" not in world.output()


def test_python_sdk_registers_dynamically_and_posts_a_note(world: McpWorld) -> None:
    run = asyncio.run(scenario(world, client_metadata_url=False))
    assert run.storage.client is not None and run.storage.client.client_id  # registered by RFC 7591
    assert not run.storage.client.client_id.startswith("https://")
    check_flow(world, run, registered=True)
    check_notes(world, run)
    # The token is the MCP server's only: sekisho's own demo API (audience: the issuer) refuses it.
    bearer = {"Authorization": f"Bearer {run.storage.tokens[-1].access_token}"}
    refused = httpx.post(f"{world.sekisho.url}/api/i", headers=bearer, json={}, timeout=10)
    assert refused.status_code == 401, refused.text


def test_python_sdk_on_postgresql(pg_world: McpWorld) -> None:
    run = asyncio.run(scenario(pg_world, client_metadata_url=False))
    assert pg_world.sekisho.database.startswith("postgresql://")
    check_flow(pg_world, run, registered=True)
    check_notes(pg_world, run)


def test_python_sdk_with_a_client_id_metadata_document(world: McpWorld) -> None:
    run = asyncio.run(scenario(world, client_metadata_url=True))
    assert run.storage.client is not None
    assert run.storage.client.client_id.startswith(world.pages.url("/mcp-python-"))  # the document's URL
    check_flow(world, run, registered=False)
    assert any(entry.path.startswith("/mcp-python-") for entry in world.pages.log)  # sekisho fetched it
    check_notes(world, run)


def test_a_token_for_another_resource_is_refused(world: McpWorld) -> None:
    """alice's JWT for sekisho's demo API (no `resource`: its audience is the issuer) is no good at the MCP server:
    401 with the challenge that sends a client to the protected resource metadata."""
    client = json.loads(
        cli(
            "client", "add", "--name", "demo app", "--redirect-uri", "http://127.0.0.1:9/cb", "--public", "--json",
            database=world.sekisho.database,
        ).stdout
    )  # fmt: skip
    tokens = user_tokens(
        world.sekisho.url,
        client,
        redirect_uri="http://127.0.0.1:9/cb",
        scope=" ".join(SCOPES),
        username=USERNAME,
        password=PASSWORD,
    )
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.post(f"{world.sekisho.url}/api/i", headers=bearer, json={}, timeout=10).status_code == 200
    refused = httpx.post(world.mcp_url, json={}, headers=bearer, timeout=10)
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    metadata = world.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert f'resource_metadata="{metadata}"' in challenge


def test_the_example_client_command(world: McpWorld) -> None:
    """`python examples/mcp_notes/client.py TEXT --no-browser`, as docs/mcp.md runs it: the URL on stderr, the
    user's part in Chromium, the posted note and the list on stdout."""
    text = f"from the example client {secrets.token_hex(4)}"
    command = [sys.executable, str(CLIENT), text, "--url", world.mcp_url, "--no-browser"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None
            before = []  # anything the SDK logs first
            for line in process.stderr:
                if line.startswith("Sign in and allow: "):
                    break
                before.append(line)
            else:
                raise AssertionError("client.py printed no authorization URL:\n" + "".join(before))
            url = line.removeprefix("Sign in and allow: ").strip()
            redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
            asyncio.run(consent_in_chromium(url, redirect_uri=redirect_uri))
            out, errors = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, errors
    result = json.loads(out)
    assert result["posted"]["text"] == text and result["notes"][0]["text"] == text
    assert text in world.user_page()
