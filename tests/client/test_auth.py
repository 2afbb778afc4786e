"""SekishoAuth: the bearer token on every request, a refresh before expiry, and one refresh and retry after a 401."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from sekisho.client import oauth
from sekisho.client.auth import SekishoAuth
from sekisho.client.errors import TokenError
from sekisho.client.oauth import ClientCredentials, TokenSet
from sekisho.client.token_store import Account, TokenStore
from tests.client.conftest import age, run, saved_login
from tests.live import LiveServer

NAME = "alice@live"
NOW = 1_800_000_000.0


class Traffic:
    """Counts what an httpx client sends, by path."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def record(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path)

    def client(self, auth: httpx.Auth | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(auth=auth, event_hooks={"request": [self.record]})


def whoami(server: LiveServer, store: TokenStore, *, clock: Callable[[], float] = time.time) -> tuple[int, Traffic]:
    """POST /api/i through SekishoAuth; the status and the requests seen at the token endpoint and the API."""
    traffic = Traffic()

    async def go() -> int:
        async with traffic.client() as token_http:
            auth = SekishoAuth(store, NAME, clock=clock, token_http=token_http)
            async with traffic.client(auth=auth) as http:
                response = await http.post(server.url + "/api/i", json={})
                if response.status_code == 200:
                    assert response.json()["username"] == "alice"
                return response.status_code

    return run(go()), traffic


@pytest.fixture
def store(server: LiveServer, tmp_path: Path) -> TokenStore:
    return saved_login(server, tmp_path / "accounts", NAME, "--public")


def revoke(server: LiveServer, account: Account, token: str) -> None:
    httpx.post(server.url + "/oauth/revoke", data={"token": token, "client_id": account.credentials.client_id})


@pytest.mark.e2e
def test_the_saved_token_is_sent(server: LiveServer, store: TokenStore) -> None:
    before = store.load(NAME)
    status, traffic = whoami(server, store)
    assert status == 200 and traffic.paths == ["/api/i"]
    assert store.load(NAME) == before


@pytest.mark.e2e
def test_a_token_about_to_expire_is_refreshed_first(server: LiveServer, store: TokenStore) -> None:
    before = age(store, NAME, time.time() + 30)
    status, traffic = whoami(server, store)
    assert status == 200 and traffic.paths == ["/oauth/token", "/api/i"]
    assert store.load(NAME).tokens.access_token != before.tokens.access_token


@pytest.mark.e2e
def test_the_clock_is_injected(server: LiveServer, store: TokenStore) -> None:
    expires_at = store.load(NAME).tokens.expires_at
    assert expires_at is not None
    status, traffic = whoami(server, store, clock=lambda: expires_at - 61)
    assert traffic.paths == ["/api/i"]
    status, traffic = whoami(server, store, clock=lambda: expires_at - 59)
    assert status == 200 and traffic.paths == ["/oauth/token", "/api/i"]


@pytest.mark.e2e
def test_by_default_refreshes_go_through_a_client_of_its_own(server: LiveServer, store: TokenStore) -> None:
    before = age(store, NAME, 0)

    async def go() -> int:
        async with httpx.AsyncClient(auth=SekishoAuth(store, NAME)) as http:
            return (await http.post(server.url + "/api/i", json={})).status_code

    assert run(go()) == 200
    assert store.load(NAME).tokens.access_token != before.tokens.access_token


@pytest.mark.e2e
def test_a_401_refreshes_once_and_retries_once(server: LiveServer, store: TokenStore) -> None:
    before = store.load(NAME)
    revoke(server, before, before.tokens.access_token)  # behind the client's back
    status, traffic = whoami(server, store)
    assert status == 200 and traffic.paths == ["/api/i", "/oauth/token", "/api/i"]
    assert store.load(NAME).tokens.access_token != before.tokens.access_token


@pytest.mark.e2e
def test_a_401_with_an_ended_login_says_log_in_again(server: LiveServer, store: TokenStore) -> None:
    account = store.load(NAME)
    assert account.tokens.refresh_token is not None
    revoke(server, account, account.tokens.refresh_token)  # ends the whole grant, access token included
    with pytest.raises(TokenError) as caught:
        whoami(server, store)
    assert str(caught.value) == oauth.LOGIN_ENDED


@pytest.mark.e2e
def test_a_login_that_cannot_refresh_gets_the_401_back(server: LiveServer, store: TokenStore) -> None:
    account = store.load(NAME)
    store.save(replace(account, tokens=replace(account.tokens, refresh_token=None)))
    revoke(server, account, account.tokens.access_token)
    status, traffic = whoami(server, store)
    assert status == 401 and traffic.paths == ["/api/i"]


# ---------------------------------------------------------------- the flow itself, with stand-in servers

ACCOUNT = Account(
    name=NAME,
    provider="sekisho",
    issuer="https://as.example",
    api_base="https://as.example/api",
    token_endpoint="https://as.example/oauth/token",
    revocation_endpoint=None,
    credentials=ClientCredentials("app"),
    tokens=TokenSet("first", expires_at=NOW + 3600, refresh_token="rt-1"),
)


def refreshed(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"access_token": "second", "token_type": "Bearer", "refresh_token": "rt-2"})


def through(tmp_path: Path, api: Callable[[httpx.Request], httpx.Response]) -> tuple[httpx.Response, list[str]]:
    """One GET through SekishoAuth to a stand-in API; the response and the Authorization headers sent."""
    store = TokenStore(tmp_path)
    store.save(ACCOUNT)
    sent: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Authorization"])
        return api(request)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.MockTransport(refreshed)) as token_http:
            auth = SekishoAuth(store, NAME, clock=lambda: NOW, token_http=token_http)
            async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(record)) as http:
                return await http.get("https://as.example/api/thing")

    return run(go()), sent


def challenge(error: str) -> httpx.Response:
    return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="api", error="{error}"'})


def test_only_one_retry(tmp_path: Path) -> None:
    response, sent = through(tmp_path, lambda request: challenge("invalid_token"))
    assert response.status_code == 401 and sent == ["Bearer first", "Bearer second"]


def test_a_401_without_a_challenge_counts_as_a_bad_token(tmp_path: Path) -> None:
    # X answers a bad token with a bare 401 and a JSON body.
    statuses = iter([401, 200])
    response, sent = through(tmp_path, lambda request: httpx.Response(next(statuses), json={"title": "Unauthorized"}))
    assert response.status_code == 200 and sent == ["Bearer first", "Bearer second"]


def test_a_401_about_something_else_is_not_retried(tmp_path: Path) -> None:
    response, sent = through(tmp_path, lambda request: challenge("invalid_request"))
    assert response.status_code == 401 and sent == ["Bearer first"]


def test_other_statuses_pass_through(tmp_path: Path) -> None:
    response, sent = through(tmp_path, lambda request: httpx.Response(403))
    assert response.status_code == 403 and sent == ["Bearer first"]


def test_a_sync_client_is_told_to_use_async(tmp_path: Path) -> None:
    with httpx.Client(auth=SekishoAuth(TokenStore(tmp_path), NAME)) as http:
        with pytest.raises(RuntimeError, match="use it with httpx.AsyncClient"):
            http.get("https://as.example/api/thing")
