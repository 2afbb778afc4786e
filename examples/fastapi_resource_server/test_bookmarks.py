"""The Bookmarks example under uvicorn, against a real `sekisho serve`: once with introspection, once with JWT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.live import LiveServer, cli, free_port, live_server, user_tokens

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
PASSWORD = "bookmarks password"
REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="module", params=["introspection", "jwt"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def sekisho(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"sekisho-{mode}")
    token_format = "jwt" if mode == "jwt" else "opaque"
    with live_server(tmp, ["--access-token-format", token_format], user=("alice", PASSWORD)) as running:
        yield running


@pytest.fixture(scope="module")
def bookmarks(mode: str, sekisho: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`uvicorn --factory bookmarks:from_environment`, configured as README.md says; its URL."""
    api = added(sekisho, "--name", "Bookmarks API", "--resource-server")
    env = {
        **os.environ,
        "SEKISHO_ISSUER": sekisho.url,
        "BOOKMARKS_VERIFY": mode,
        "BOOKMARKS_CLIENT_ID": api["client_id"],
        "BOOKMARKS_CLIENT_SECRET": api["client_secret"],
    }
    port = free_port()
    log = tmp_path_factory.mktemp("bookmarks") / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "--factory", "bookmarks:from_environment", "--port", str(port)]
    with log.open("w") as sink:
        process = subprocess.Popen(command, cwd=HERE, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the example exited:\n{log.read_text()}")
        try:
            httpx.get(url + "/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"the example did not start:\n{log.read_text()}")


def added(server: LiveServer, *options: str) -> dict[str, str]:
    client: dict[str, str] = json.loads(cli("client", "add", *options, "--json", database=server.database).stdout)
    return client


def access_token(server: LiveServer, scope: str) -> str:
    bot = added(server, "--name", "Bookmark bot", "--redirect-uri", REDIRECT)
    body = user_tokens(server.url, bot, redirect_uri=REDIRECT, scope=scope, username="alice", password=PASSWORD)
    return str(body["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_bot_adds_and_lists_the_users_bookmarks(sekisho: LiveServer, bookmarks: str, mode: str) -> None:
    token = access_token(sekisho, "bookmark.read bookmark.write")
    assert (token.count(".") == 2) == (mode == "jwt")
    new = {"url": "https://example.org/", "title": "Example"}
    created = httpx.post(bookmarks + "/bookmarks", json=new, headers=bearer(token))
    assert created.status_code == 201, created.text
    assert created.json() == {"id": 1, **new}
    listed = httpx.get(bookmarks + "/bookmarks", headers=bearer(token))
    assert listed.status_code == 200 and listed.json() == [{"id": 1, **new}]


def test_scope_and_token_refusals_are_rfc_6750(sekisho: LiveServer, bookmarks: str) -> None:
    reader = access_token(sekisho, "bookmark.read")
    assert httpx.get(bookmarks + "/bookmarks", headers=bearer(reader)).status_code == 200
    refused = httpx.post(
        bookmarks + "/bookmarks", json={"url": "https://a.example/", "title": "A"}, headers=bearer(reader)
    )
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert 'scope="bookmark.write"' in refused.headers["www-authenticate"]
    for headers in ({}, bearer("garbage"), bearer(reader[:-4]), bearer("x" * 10_000), {"Authorization": "Basic eDp5"}):
        response = httpx.get(bookmarks + "/bookmarks", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
    in_query = httpx.get(bookmarks + "/bookmarks", params={"access_token": reader})
    assert in_query.status_code == 401


def test_revocation_as_readme_says(sekisho: LiveServer, bookmarks: str, mode: str) -> None:
    """Introspection sees a revocation at once (the token was never cached); a local JWT check, not until `exp`."""
    token = access_token(sekisho, "bookmark.read")
    api = added(sekisho, "--name", "Revoker", "--resource-server")
    revoked = httpx.post(
        sekisho.url + "/oauth/revoke", data={"token": token}, auth=(api["client_id"], api["client_secret"])
    )
    assert revoked.status_code == 200
    response = httpx.get(bookmarks + "/bookmarks", headers=bearer(token))
    if mode == "introspection":
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
    else:
        assert response.status_code == 200
