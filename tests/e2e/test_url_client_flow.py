"""A URL client (Misskey/IndieAuth page, then a client ID metadata document) against a real `sekisho serve`.

No registration: the client_id is the URL of a page served by tests/client_pages.py on 127.0.0.1, which the server
may fetch because it runs with `--allow-private-client-ids`.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.client_pages import PNG, ClientPages
from tests.conftest import Databases
from tests.live import LiveServer, consent_over_http, serve_for
from tests.live import pkce_pair as pkce

pytestmark = pytest.mark.e2e

PASSWORD = "url client e2e pw"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(
        request, databases, tmp_path_factory, "url-client-e2e", ["--allow-private-client-ids"], user=("alice", PASSWORD)
    ) as running:
        yield running


@pytest.fixture
def pages() -> Iterator[ClientPages]:
    with ClientPages() as running:
        yield running


def span(page: str, ident: str) -> str:
    match = re.search(rf'id="{ident}">(.*?)</span>', page, re.S)
    assert match, f"no #{ident}"
    return html.unescape(match.group(1))


def authorize(browser: httpx.Client, client_id: str, redirect_uri: str, challenge: str) -> tuple[str, str]:
    """authorize → login → consent → allow, as a browser does; returns (the consent page, the redirect Location)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "read:account write:notes",
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    consent, location = consent_over_http(browser, params, username="alice", password=PASSWORD)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [params["state"]]
    return consent, location


def redeem_and_post(server: LiveServer, client_id: str, redirect_uri: str, location: str, verifier: str) -> None:
    """Token for the public URL client, then a note posted with it."""
    code = parse_qs(urlsplit(location).query)["code"][0]
    with httpx.Client(base_url=server.url, timeout=10) as app:
        exchanged = app.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
                "client_id": client_id,
            },
        )
        assert exchanged.status_code == 200, exchanged.text
        tokens = exchanged.json()
        assert tokens["token_type"] == "Bearer" and tokens["scope"] == "read:account write:notes"
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        text = f"posted by {client_id}"
        note = app.post("/api/notes/create", headers=bearer, json={"text": text})
        assert note.status_code == 200, note.text
        assert note.json()["createdNote"]["text"] == text
        refreshed = app.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
        )
        assert refreshed.status_code == 200, refreshed.text


def test_url_client_page_flow(server: LiveServer, pages: ClientPages) -> None:
    client_id = pages.url("/notes-app")  # no trailing slash: the same string goes to both endpoints
    callback = pages.url("/callback?from=sekisho")
    pages.set("/logo.png", body=PNG, content_type="image/png")
    pages.html(
        "/notes-app",
        links=[callback.replace("&", "&amp;")],
        link_headers=[f'<{pages.url("/other-callback")}>; rel="redirect_uri"'],
        app='<div class="h-app"><img class="u-logo" src="/logo.png">'
        '<a class="u-url p-name" href="/notes-app">Notes &lt;Deluxe&gt;</a></div>',
    )
    verifier, challenge = pkce()
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=15) as browser:
        consent, location = authorize(browser, client_id, callback, challenge)
    assert span(consent, "app-name") == "Notes <Deluxe>"
    assert span(consent, "client-host") == f"127.0.0.1:{pages.port}"
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in consent
    assert location.startswith(callback + "&code=")
    redeem_and_post(server, client_id, callback, location, verifier)
    page_fetches = [entry for entry in pages.log if entry.path == "/notes-app"]
    assert page_fetches and all(entry.headers["user-agent"].startswith("sekisho/") for entry in page_fetches)
    assert "Traceback" not in server.output()


def test_client_id_metadata_document_flow(server: LiveServer, pages: ClientPages) -> None:
    client_id = pages.url("/oauth-client.json")
    callback = pages.url("/cb")
    pages.json(
        "/oauth-client.json",
        json.dumps(
            {
                "client_id": client_id,
                "client_name": "JSON Notes",
                "redirect_uris": [callback],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            }
        ),
    )
    verifier, challenge = pkce()
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=15) as browser:
        consent, location = authorize(browser, client_id, callback, challenge)
    assert span(consent, "app-name") == "JSON Notes"
    assert location.startswith(callback + "?code=")
    redeem_and_post(server, client_id, callback, location, verifier)


def test_a_page_that_is_down_is_a_400_and_the_server_stays_up(server: LiveServer, pages: ClientPages) -> None:
    pages.set("/down", status=503, body=b"maintenance")
    _, challenge = pkce()
    with httpx.Client(base_url=server.url, timeout=15) as http:
        response = http.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": pages.url("/down"),
                "redirect_uri": pages.url("/cb"),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_request",
            "error_description": f"the client_id page cannot be used: {pages.url('/down')} answered HTTP 503",
        }
        assert http.get("/.well-known/oauth-authorization-server").json()["client_id_metadata_document_supported"]
