"""The whole flow over real HTTP against a real `sekisho serve` process on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Databases
from tests.live import LiveServer, cli, consent_over_http, live_server, serve_for
from tests.live import pkce_pair as pkce

pytestmark = pytest.mark.e2e

PASSWORD = "e2e password 1"
REDIRECT = "http://127.0.0.1:9/callback"  # never followed: the test reads the Location header


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(request, databases, tmp_path_factory, "e2e", user=("alice", PASSWORD)) as running:
        yield running


def register(server: LiveServer, *flags: str) -> dict[str, str | None]:
    done = cli(
        "client", "add", "--name", "E2E bot", "--redirect-uri", REDIRECT, "--json", *flags, database=server.database
    )
    registered: dict[str, str | None] = json.loads(done.stdout)
    return registered


def authorize(browser: httpx.Client, client_id: str, challenge: str, state: str) -> dict[str, list[str]]:
    """The whole browser walk; checks the consent page names the app and its scopes; returns the redirect query."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "read:account write:notes",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    consent, location = consent_over_http(browser, params, username="alice", password=PASSWORD)
    assert "E2E bot" in consent and "Post and delete notes as you" in consent
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def test_whole_flow_over_http(server: LiveServer) -> None:
    client = register(server)
    client_id, secret = client["client_id"], client["client_secret"]
    assert client_id and secret and secret.startswith("sek_cs_")
    with (
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser,
        httpx.Client(base_url=server.url, timeout=10) as app,
    ):
        metadata = app.get("/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == server.url
        assert metadata["code_challenge_methods_supported"] == ["S256"]

        verifier, challenge = pkce()
        query = authorize(browser, client_id, challenge, "state-1")
        assert query["state"] == ["state-1"] and query["iss"] == [server.url]

        # Token in JSON, with client_secret_basic.
        exchanged = app.post(
            metadata["token_endpoint"],
            auth=(client_id, secret),
            json={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
        )
        assert exchanged.status_code == 200, exchanged.text
        assert exchanged.headers["cache-control"] == "no-store"
        tokens = exchanged.json()
        assert tokens["token_type"] == "Bearer" and tokens["scope"] == "read:account write:notes"
        assert tokens["access_token"].startswith("sek_at_") and tokens["refresh_token"].startswith("sek_rt_")

        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = app.post("/api/i", headers=bearer, json={})
        assert me.status_code == 200 and me.json()["username"] == "alice"
        note = app.post("/api/notes/create", headers=bearer, json={"text": "hello from e2e"})
        assert note.status_code == 200 and note.json()["createdNote"]["text"] == "hello from e2e"

        # Code replay: refused, and the tokens from the first use stop working.
        replay = app.post(
            metadata["token_endpoint"],
            auth=(client_id, secret),
            json={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
        )
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert app.post("/api/i", headers=bearer).status_code == 401

        # A second authorization, token in form encoding with client_secret_post; then refresh and reuse.
        verifier, challenge = pkce()
        query = authorize(browser, client_id, challenge, "state-2")
        form = app.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        assert form.status_code == 200, form.text
        first = form.json()
        refreshed = app.post(
            "/oauth/token",
            auth=(client_id, secret),
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert second["refresh_token"] != first["refresh_token"]
        new_bearer = {"Authorization": f"Bearer {second['access_token']}"}
        assert app.post("/api/i", headers=new_bearer).status_code == 200

        reuse = app.post(
            "/oauth/token",
            auth=(client_id, secret),
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
            },
        )
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        # Reuse revoked the family: the newest tokens are dead too.
        assert app.post("/api/i", headers=new_bearer).status_code == 401
        again = app.post(
            "/oauth/token",
            auth=(client_id, secret),
            data={
                "grant_type": "refresh_token",
                "refresh_token": second["refresh_token"],
            },
        )
        assert again.json()["error"] == "invalid_grant"


def test_public_client_flow_and_server_log(server: LiveServer) -> None:
    client = register(server, "--public")
    assert client["client_secret"] is None
    client_id = client["client_id"]
    assert client_id
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        verifier, challenge = pkce()
        query = authorize(browser, client_id, challenge, "s")
        tokens = browser.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_id": client_id,
            },
        ).json()
        assert tokens["access_token"].startswith("sek_at_")
    log = server.output()
    assert '"POST /oauth/token HTTP/1.1" 200' in log  # one line per request
    assert tokens["access_token"] not in log and "Traceback" not in log


def test_no_access_log_drops_the_request_lines(tmp_path: Path, database: str) -> None:
    with live_server(tmp_path, ["--no-access-log"], database=database) as running:
        answer = httpx.get(running.url + "/.well-known/oauth-authorization-server", timeout=10)
        assert answer.status_code == 200
        log = running.output()
    assert "sekisho serving" in log and "/.well-known/oauth-authorization-server HTTP/1.1" not in log


def test_serve_says_how_to_start(tmp_path: Path, database: str) -> None:
    with live_server(tmp_path, database=database) as running:
        assert "sekisho user add" in running.output()
