"""One real `sekisho serve` for the client library's end-to-end tests, and a login over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from sekisho.client import authorization, oauth
from sekisho.client.discovery import ServerMetadata, discover, issuer_from
from sekisho.client.token_store import Account, TokenStore
from tests.conftest import Databases
from tests.live import LiveServer, cli, consent_over_http, serve_for

T = TypeVar("T")
PASSWORD = "client library password"
REDIRECT = "http://127.0.0.1:9/callback"  # only ever a Location header: nothing listens there
SCOPE = "read:account write:notes"


@pytest.fixture(scope="package")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(request, databases, tmp_path_factory, "client-library", user=("alice", PASSWORD)) as running:
        yield running


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def add_client(server: LiveServer, *options: str) -> dict[str, str]:
    """`sekisho client add OPTIONS --json`; a public or confidential app with the loopback redirect by default."""
    if "--resource-server" not in options:
        options = ("--redirect-uri", REDIRECT, *options)  # a confidential client's port may not vary (issue 21)
    added: dict[str, str] = json.loads(cli("client", "add", *options, "--json", database=server.database).stdout)
    return added


def credentials_of(client: dict[str, str]) -> oauth.ClientCredentials:
    return oauth.ClientCredentials(client["client_id"], client.get("client_secret") or None)


def metadata(server: LiveServer) -> ServerMetadata:
    async def go() -> ServerMetadata:
        async with httpx.AsyncClient() as http:
            return await discover(issuer_from(server.url), http)

    return run(go())


def code_over_http(server: LiveServer, request: authorization.AuthorizationRequest) -> str:
    """Alice signs in and allows `request` in a browser-like client; the query of the redirect back."""
    params = dict(httpx.URL(request.url).params)
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        _, location = consent_over_http(browser, params, username="alice", password=PASSWORD)
    return httpx.URL(location).query.decode()


def tokens_over_http(server: LiveServer, credentials: oauth.ClientCredentials, scope: str = SCOPE) -> oauth.TokenSet:
    """The library's whole authorization code flow against the live server."""
    found = metadata(server)
    request = authorization.start(
        authorization_endpoint=found.authorization_endpoint,
        client_id=credentials.client_id,
        redirect_uri=REDIRECT,
        scope=scope,
        issuer=found.issuer,
    )
    code = authorization.finish(request, code_over_http(server, request), iss_required=True)

    async def go() -> oauth.TokenSet:
        async with httpx.AsyncClient() as http:
            return await oauth.exchange_code(
                http,
                found.token_endpoint,
                credentials,
                code=code,
                code_verifier=request.code_verifier,
                redirect_uri=REDIRECT,
                now=time.time(),
            )

    return run(go())


def saved_login(server: LiveServer, directory: Path, name: str = "alice@live", *options: str) -> TokenStore:
    """A store in `directory` holding a fresh login of alice through a new app registered with OPTIONS."""
    client = add_client(server, "--name", f"Library test {name}", *options)
    credentials = credentials_of(client)
    found = metadata(server)
    account = Account(
        name=name,
        provider="sekisho",
        issuer=found.issuer,
        api_base=found.issuer + "/api",
        token_endpoint=found.token_endpoint,
        revocation_endpoint=found.revocation_endpoint,
        credentials=credentials,
        tokens=tokens_over_http(server, credentials),
        username="alice",
    )
    store = TokenStore(directory)
    store.save(account)
    return store


def age(store: TokenStore, name: str, expires_at: float) -> Account:
    """Pretend the saved access token runs out at `expires_at`."""
    account = store.load(name)
    aged = replace(account, tokens=replace(account.tokens, expires_at=expires_at))
    store.save(aged, default=False)
    return aged


def introspect(server: LiveServer, token: str) -> dict[str, Any]:
    checker = add_client(server, "--name", "Checker", "--resource-server")
    answer = httpx.post(
        server.url + "/oauth/introspect",
        data={"token": token},
        auth=(checker["client_id"], checker["client_secret"]),
        timeout=10,
    )
    body: dict[str, Any] = answer.json()
    return body
