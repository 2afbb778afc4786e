"""Real Chromium (Debian's, through Playwright) against a real `sekisho serve` process on 127.0.0.1.

Shared by every browser test: one Chromium, one server with the user `alice`, and one small HTTP server on 127.0.0.1
that plays the client app (its `/callback` is the registered redirect URI, and it serves the pages that try to frame
sekisho). Each test opens its own browser context, so no cookies leak between tests.

The fixtures are package-scoped, not session-scoped, on purpose: while Playwright's sync API is running it leaves its
event loop marked as running on the main thread, so every later `asyncio.run()` in the same pytest session (the
`world` fixture in tests/conftest.py, for one) fails with "cannot be called from a running event loop". Package scope
stops Chromium as soon as the last test in tests/browser is done.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.conftest import Databases
from tests.live import LiveServer, cli, live_server
from tests.needs import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERNAME = "alice"
PASSWORD = "browser password 1"
SCOPE = "read:account write:notes"


@contextmanager
def demo_server(tmp: Path, extra: Sequence[str] = ()) -> Iterator[tuple[LiveServer, str]]:
    """`sekisho serve --demo` (and `extra`), with the demo user's password it printed."""
    with live_server(tmp, ["--demo", *extra]) as server:
        found = re.search(r"Password\s+(\S+)", server.output())
        assert found, server.output()
        yield server, found.group(1)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright; never `playwright install`)")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Error as error:
            unavailable(f"{CHROMIUM} did not start under Playwright: {error.message.splitlines()[0]}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test; short timeouts so a broken page fails fast."""
    fresh = browser.new_context()
    fresh.set_default_timeout(10_000)
    try:
        yield fresh
    finally:
        fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# The client app: a tiny real HTTP server on 127.0.0.1.


@dataclass
class Hit:
    path: str
    query: str


@dataclass
class ClientApp:
    """What the browser reaches outside sekisho: `/callback` records its requests; `pages` are served as HTML."""

    url: str
    hits: list[Hit] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def redirect_uri(self) -> str:
        return self.url + "/callback"

    def callbacks(self) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == "/callback"]


def _handler(app: ClientApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            parts = urlsplit(self.path)
            with app.lock:
                app.hits.append(Hit(parts.path, parts.query))
                body = app.pages.get(parts.path)
            if parts.path == "/callback":
                body = '<!doctype html><title>Client app</title><p id="callback">The app got the answer.</p>'
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="package")
def client_app() -> Iterator[ClientApp]:
    app = ClientApp(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(app))
    httpd.daemon_threads = True
    app.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="client-app", daemon=True)
    thread.start()
    try:
        yield app
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# sekisho itself.


@dataclass
class Sekisho:
    server: LiveServer
    issuer: str
    client_app: ClientApp

    @property
    def url(self) -> str:
        return self.server.url

    def register(self, name: str) -> str:
        """A public client whose redirect URI is the client app's `/callback`; returns its client_id."""
        done = cli(
            "client",
            "add",
            "--name",
            name,
            "--redirect-uri",
            self.client_app.redirect_uri,
            "--public",
            "--json",
            database=self.server.database,
        )
        client_id: str = json.loads(done.stdout)["client_id"]
        return client_id

    def authorization_url(self, client_id: str, state: str, challenge: str) -> str:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": self.client_app.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return self.url + "/oauth/authorize?" + urlencode(params)

    def sign_in(self, page: Page) -> None:
        """Fill in and send the login form the page shows now; waits until the browser has left /login."""
        assert urlsplit(page.url).path == "/login", page.url
        page.fill("input[name=username]", USERNAME)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert urlsplit(page.url).path != "/login", f"still on the login page: {page.url}"

    def open_consent(self, page: Page, client_id: str, state: str, challenge: str) -> None:
        """Authorization URL → login page → sign in → consent page."""
        page.goto(self.authorization_url(client_id, state, challenge))
        self.sign_in(page)
        assert page.url.startswith(self.url + "/oauth/authorize?"), page.url
        page.locator("#app-name").wait_for()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@pytest.fixture(scope="package")
def sekisho(
    tmp_path_factory: pytest.TempPathFactory,
    client_app: ClientApp,
    databases: Databases,
    request: pytest.FixtureRequest,
) -> Iterator[Sekisho]:
    tmp: Path = tmp_path_factory.mktemp("browser")
    with live_server(tmp, user=(USERNAME, PASSWORD), database=databases.new(tmp, request)) as server:
        issuer = httpx.get(server.url + "/.well-known/oauth-authorization-server", timeout=10).json()["issuer"]
        yield Sekisho(server, issuer, client_app)
