"""What the MCP SDK tests share: a real `sekisho serve` and the example MCP server (examples/mcp_notes) on
127.0.0.1, an https page for client ID metadata documents, a loopback callback listener, and Chromium for the
user's part (sign in as alice, Allow).

sekisho runs with JWT access tokens (the example checks them with `sekisho.resource.JwtVerifier`, audience = the
MCP server's URL), open dynamic registration, the MCP server's URL as an allowed `resource`, and
`--allow-private-client-ids` so it may fetch a client ID metadata document from 127.0.0.1 (over https, trusting
this test's CA through `SSL_CERT_FILE`).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.certs import loopback_ca
from tests.client_pages import ClientPages
from tests.live import LiveServer, free_port, live_server, stop
from tests.needs import unavailable

EXAMPLE = Path(__file__).parents[2] / "examples" / "mcp_notes" / "notes_server.py"
USERNAME = "alice"
PASSWORD = "mcp interop password"
SCOPES = ["read:account", "write:notes"]  # what examples/mcp_notes asks for (its protected resource metadata)


@dataclass
class McpWorld:
    sekisho: LiveServer
    mcp_url: str  # the example's MCP endpoint, and the resource its tokens are bound to
    mcp: subprocess.Popen[str]
    mcp_log: Path
    pages: ClientPages  # https://127.0.0.1:PORT/…: client ID metadata documents

    def output(self) -> str:
        return f"--- sekisho serve\n{self.sekisho.output()}\n--- examples/mcp_notes\n{self.mcp_log.read_text()}"

    def client_document(self, path: str, redirect_uri: str, name: str) -> str:
        """Serve a client ID metadata document at `path` (https) naming `redirect_uri`; its URL, the client_id."""
        client_id = self.pages.url(path)
        document = {
            "client_id": client_id,
            "client_name": name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        self.pages.json(path, json.dumps(document))
        return client_id

    def user_page(self) -> str:
        """sekisho's page of alice's notes, /@alice."""
        page = httpx.get(f"{self.sekisho.url}/@{USERNAME}", timeout=10)
        assert page.status_code == 200, page.text
        return page.text


def serve_flags(mcp_url: str) -> list[str]:
    """`sekisho serve`'s flags for an MCP server at `mcp_url` (docs/mcp.md gives the same, tests/test_docs.py
    checks), and the one for client documents on 127.0.0.1."""
    return [
        "--demo",
        "--access-token-format",
        "jwt",
        "--registration",
        "open",
        "--resource",
        mcp_url,
        "--allow-private-client-ids",
    ]


def audience(jwt: str) -> list[str]:
    """The `aud` of a JWT access token, read without checking it (the MCP server checked it)."""
    payload = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    found = claims["aud"]
    return [found] if isinstance(found, str) else list(found)


@contextmanager
def mcp_world(tmp: Path, database: str | None = None) -> Iterator[McpWorld]:
    """sekisho and the example on `database` (default: a SQLite file in `tmp`), and the https document page."""
    ca = loopback_ca(tmp)
    port = free_port()
    mcp_url = f"http://127.0.0.1:{port}/mcp"
    flags = serve_flags(mcp_url)
    with (
        ClientPages(tls=ca.server) as pages,
        live_server(
            tmp, flags, database=database, user=(USERNAME, PASSWORD), env={"SSL_CERT_FILE": str(ca.ca_file)}
        ) as sekisho,
    ):
        log = tmp / "mcp-notes.log"
        command = [sys.executable, str(EXAMPLE), "--issuer", sekisho.url, "--port", str(port)]
        with log.open("w") as sink:
            process = subprocess.Popen(
                [*command, "--database", sekisho.database],
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                cwd=tmp,
            )
        world = McpWorld(sekisho, mcp_url, process, log, pages)
        try:
            _wait_for_mcp(world)
            yield world
        finally:
            stop(process)


def _wait_for_mcp(world: McpWorld, timeout: float = 30.0) -> None:
    metadata = world.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if world.mcp.poll() is not None:
            raise AssertionError(f"examples/mcp_notes exited early:\n{world.output()}")
        try:
            httpx.get(metadata, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"examples/mcp_notes did not answer within {timeout} s:\n{world.output()}")


async def consent_in_chromium(authorization_url: str, *, redirect_uri: str) -> list[str]:
    """Open the authorization URL in Chromium, sign in as alice, Allow, and wait for the redirect to
    `redirect_uri`; the URLs the browser went through (for the test to check the request it was given)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright; never `playwright install`)")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page()
            page.set_default_timeout(20_000)
            visited: list[str] = []
            page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
            await page.goto(authorization_url)
            assert urlsplit(page.url).path == "/login", page.url
            await page.fill("input[name=username]", USERNAME)
            await page.fill("input[name=password]", PASSWORD)
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            assert urlsplit(page.url).path == "/oauth/authorize", f"not on the consent page: {page.url}"
            await page.click("button[name=decision][value=allow]")
            await page.wait_for_url(lambda url: url.startswith(redirect_uri + "?"))
            return visited
        finally:
            await browser.close()
