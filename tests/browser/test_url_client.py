"""A URL client (Misskey/IndieAuth: the client_id is the app's page) in real Chromium (issue 3, CONTRACT.md §3).

A small real HTTP server on 127.0.0.1 plays the app: its page names the redirect URI with `<link rel="redirect_uri">`
and itself with an `h-app`, and serves a real PNG logo. sekisho runs as `sekisho serve --allow-private-client-ids`.
The consent page must show the app's name and host, and its logo inlined as a data: URL: the browser never
fetches anything from the app's server until it is sent back to the redirect URI.
"""

from __future__ import annotations

import base64
import html
import secrets
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.browser.conftest import PASSWORD, SCOPE, USERNAME, pkce_pair
from tests.conftest import Databases
from tests.live import LiveServer, cli, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page, Request

pytestmark = pytest.mark.browser


def png(width: int, height: int, rgba: tuple[int, int, int, int]) -> bytes:
    """A real, valid PNG of one colour (signature, IHDR, IDAT, IEND; each chunk with its CRC)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    rows = b"".join(b"\x00" + bytes(rgba) * width for _ in range(height))  # filter type 0 per row
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


LOGO = png(16, 16, (0x2A, 0x7A, 0xE2, 0xFF))


def client_page(name_html: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Note Bot</title>
<link rel="redirect_uri" href="/callback">
</head>
<body>
<div class="h-app"><img class="u-logo" src="/logo.png"><a class="u-url p-name" href="/">{name_html}</a></div>
<p>A small app that posts notes.</p>
</body>
</html>
"""


@dataclass
class Hit:
    path: str
    query: str
    user_agent: str


@dataclass
class AppServer:
    """The URL client's own server: `/` (its page), `/logo.png`, `/callback`; every request is recorded."""

    url: str = ""
    page: str = ""
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client_id(self) -> str:
        return self.url + "/"

    @property
    def redirect_uri(self) -> str:
        return self.url + "/callback"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def requests(self, path: str | None = None) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if path is None or hit.path == path]


def _handler(app: AppServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            parts = urlsplit(self.path)
            with app.lock:
                app.hits.append(Hit(parts.path, parts.query, self.headers.get("User-Agent", "")))
            if parts.path == "/":
                self._send(app.page.encode(), "text/html; charset=utf-8")
            elif parts.path == "/logo.png":
                self._send(LOGO, "image/png")
            elif parts.path == "/callback":
                self._send(b'<!doctype html><title>Note Bot</title><p id="callback">Back at Note Bot.</p>', "text/html")
            else:
                self.send_error(404)

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    """A fresh app server per test: a new port is a new client_id, so nothing is shared through sekisho's cache."""
    app = AppServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(app))
    httpd.daemon_threads = True
    app.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="url-client-app", daemon=True)
    thread.start()
    try:
        yield app
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def private_sekisho(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """`sekisho serve --allow-private-client-ids` (the app lives on 127.0.0.1), with a user made by the CLI."""
    tmp: Path = tmp_path_factory.mktemp("url-client")
    database = databases.new(tmp, request)
    cli("user", "add", USERNAME, "--password-stdin", database=database, stdin=PASSWORD + "\n")
    with live_server(tmp, extra=["--allow-private-client-ids"], database=database) as server:
        yield server


def authorization_url(server: LiveServer, app: AppServer, state: str, challenge: str) -> str:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return server.url + "/oauth/authorize?" + urlencode(params)


def open_consent(page: Page, server: LiveServer, app: AppServer, state: str, challenge: str) -> None:
    """Authorization URL → login page → sign in → the consent page."""
    page.goto(authorization_url(server, app, state, challenge))
    assert urlsplit(page.url).path == "/login", page.url
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.startswith(server.url + "/oauth/authorize?"), page.url
    page.locator("#app-name").wait_for()


def test_consent_for_a_url_client_shows_its_name_inlined_logo_and_host(
    page: Page, private_sekisho: LiveServer, app_server: AppServer
) -> None:
    app_server.page = client_page("Note Bot")
    server = private_sekisho
    browser_requests: list[str] = []

    def on_request(request: Request) -> None:
        browser_requests.append(request.url)

    page.on("request", on_request)
    verifier, challenge = pkce_pair()
    state = "url-client-" + secrets.token_urlsafe(12)
    open_consent(page, server, app_server, state, challenge)

    # The name from the h-app, in the heading and the title.
    assert page.locator("#app-name").inner_text() == "Note Bot"
    assert page.title().startswith("Allow Note Bot?")

    # The client_id's host, visible, in its own element (a look-alike app shows a different host here).
    host = page.locator("#client-host")
    assert host.is_visible()
    assert host.inner_text() == app_server.host
    assert "host" in (host.get_attribute("class") or "")
    assert page.locator("#client-id").inner_text() == app_server.client_id

    # The logo: an <img> whose src is the PNG itself as a data: URL, and which the browser really drew.
    logo = page.locator("#app-logo")
    assert logo.count() == 1 and logo.is_visible()
    src = logo.get_attribute("src") or ""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:80]
    assert base64.b64decode(src.removeprefix(prefix)) == LOGO
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 16
    hot_links = page.locator(f'[src^="{app_server.url}"], [href^="{app_server.url}"], [srcset*="{app_server.url}"]')
    assert hot_links.count() == 0  # the page links nothing from the app's server...

    # ...so the browser asked the app's server for nothing; sekisho fetched the page and the logo itself.
    assert not [url for url in browser_requests if url.startswith(app_server.url)], browser_requests
    logo_hits = app_server.requests("/logo.png")
    assert logo_hits, "sekisho never fetched the logo"
    assert all(hit.user_agent.startswith("sekisho/") for hit in logo_hits), logo_hits
    assert all(hit.user_agent.startswith("sekisho/") for hit in app_server.requests("/")), app_server.requests("/")
    assert app_server.requests("/callback") == []

    # Allow: back at the app's redirect URI with code, state and iss.
    page.click("button[name=decision][value=allow]")
    page.wait_for_url(lambda url: url.startswith(app_server.redirect_uri + "?"))
    assert page.locator("#callback").inner_text() == "Back at Note Bot."
    query = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
    assert set(query) == {"code", "state", "iss"}, query
    assert query["state"] == [state]
    assert query["iss"] == [server.url]
    callbacks = app_server.requests("/callback")
    assert len(callbacks) == 1 and "HeadlessChrome" in callbacks[0].user_agent
    assert parse_qs(callbacks[0].query, keep_blank_values=True) == query
    assert all(hit.user_agent.startswith("sekisho/") for hit in app_server.requests("/logo.png"))

    # The code works for the URL client (public, PKCE), and the token posts a note.
    exchanged = httpx.post(
        server.url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": app_server.redirect_uri,
            "code_verifier": verifier,
            "client_id": app_server.client_id,
        },
        timeout=10,
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == SCOPE
    note = httpx.post(
        server.url + "/api/notes/create",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        json={"text": "posted by a URL client"},
        timeout=10,
    )
    assert note.status_code == 200, note.text
    assert note.json()["createdNote"]["text"] == "posted by a URL client"


def test_an_h_app_name_carrying_script_is_displayed_as_text(
    browser: Browser, private_sekisho: LiveServer, app_server: AppServer
) -> None:
    name = "<script>alert(1)</script>Evil"
    app_server.page = client_page(html.escape(name))  # the page's text (what a microformats parser reads) is `name`
    _, challenge = pkce_pair()
    # Escaping must hold on its own: switch the page's CSP off so it cannot hide a missing escape.
    unguarded = browser.new_context(bypass_csp=True)
    unguarded.set_default_timeout(10_000)
    try:
        page = unguarded.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        open_consent(page, private_sekisho, app_server, "xss", challenge)

        assert page.locator("#app-name").inner_text() == name
        assert page.locator("#app-name *").count() == 0
        assert page.locator("script").count() == 0
        assert page.title().startswith(f"Allow {name}?")
        assert page.locator("#client-host").inner_text() == app_server.host
        assert (page.locator("#app-logo").get_attribute("src") or "").startswith("data:image/png;base64,")
        page.wait_for_timeout(300)
        assert dialogs == []
    finally:
        unguarded.close()
