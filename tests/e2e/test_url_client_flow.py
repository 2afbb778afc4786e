"""A URL client (Misskey/IndieAuth page, then a client ID metadata document) against a real `sekisho serve`.

No registration: the client_id is the URL of a page served by tests/client_pages.py on 127.0.0.1, which the server
may fetch because it runs with `--allow-private-client-ids`.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import secrets
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.client_pages import PNG, ClientPages, wait_for
from tests.conftest import Databases
from tests.live import LiveServer, consent_over_http, serve_for
from tests.live import pkce_pair as pkce

pytestmark = pytest.mark.e2e

PASSWORD = "url client e2e pw"
PAGE_ERROR = "the client_id page cannot be used: "


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


def authorize_request(client_id: str, redirect_uri: str) -> dict[str, str]:
    """The query of an authorization request by a URL client, as a client that wants JSON errors sends it."""
    _, challenge = pkce()
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "read:account",  # a valid request: a URL client's errors are no longer redirected (issue 21)
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def page_refused(response: httpx.Response, reason: str) -> None:
    """A 400 `invalid_request` about the client's page, never a redirect."""
    assert response.status_code == 400 and "location" not in response.headers, response.text
    assert response.json() == {"error": "invalid_request", "error_description": PAGE_ERROR + reason}


def test_a_page_that_is_down_is_a_400_and_the_server_stays_up(server: LiveServer, pages: ClientPages) -> None:
    pages.set("/down", status=503, body=b"maintenance")
    with httpx.Client(base_url=server.url, timeout=15) as http:
        response = http.get(
            "/oauth/authorize",
            params=authorize_request(pages.url("/down"), pages.url("/cb")),
            headers={"Accept": "application/json"},
        )
        page_refused(response, f"{pages.url('/down')} answered HTTP 503")
        assert http.get("/.well-known/oauth-authorization-server").json()["client_id_metadata_document_supported"]


def test_an_open_redirect_on_the_apps_host_cannot_speak_for_it(server: LiveServer, pages: ClientPages) -> None:
    """Issue 21 finding 2: the server once followed the app's open redirect to a page that claimed the client_id."""
    client_id = pages.url("/go?to=/attacker")
    pages.redirect("/go", pages.url("/attacker"))
    pages.html(
        "/attacker",
        links=[pages.url("/steal")],
        app=f'<div class="h-app"><a class="u-url p-name" href="{client_id}">Legit App</a></div>',
    )
    with httpx.Client(base_url=server.url, timeout=15) as http:
        response = http.get(
            "/oauth/authorize",
            params=authorize_request(client_id, pages.url("/steal")),
            headers={"Accept": "application/json"},
        )
    page_refused(
        response, "the client_id URL answered with a redirect; the client's page must be at the client_id URL itself"
    )
    assert pages.hits("/attacker") == 0


def test_a_burst_of_slow_pages_gets_busy_answers_not_a_hang(server: LiveServer, pages: ClientPages) -> None:
    """Issue 21, fetch caps: 12 slow client pages on one host at once; 4 are fetched, 8 told the host is busy."""
    held = threading.Event()
    pages.html("/slow", links=[pages.url("/cb")], hold=held)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers={"Accept": "application/json"}) as http:
            asks = [
                asyncio.create_task(
                    http.get("/oauth/authorize", params=authorize_request(pages.url(f"/slow?n={n}"), pages.url("/cb")))
                )
                for n in range(12)
            ]
            try:
                await asyncio.to_thread(wait_for, lambda: sum(ask.done() for ask in asks) == 8, 15)
                assert pages.waiting("/slow") == 4 and not held.is_set()
            finally:
                held.set()
            return await asyncio.gather(*asks)

    answers = asyncio.run(burst())
    busy = [answer for answer in answers if answer.status_code == 400]
    assert len(busy) == 8 and pages.peak("/slow") == 4 and len(pages.log) == 4  # the 8 never connected
    for answer in busy:
        page_refused(answer, "127.0.0.1 is busy or slow (too many fetches to it at once); try again")
    assert [answer.status_code for answer in answers if answer not in busy] == [303] * 4
    assert "Traceback" not in server.output()
