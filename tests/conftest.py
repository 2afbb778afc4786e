"""Shared fixtures: a real database (SQLite, and PostgreSQL in a throwaway cluster), the app under a clock.

Every test that asks for `database` (or `world`, or `databases`) runs twice: `[sqlite]` on a file in its temporary
folder and `[postgresql]` on a fresh database copied from a migrated template in one session-wide cluster
(tests/pg.py). PostgreSQL's tests skip when its binaries are missing, except in CI (CI=true), where that fails.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import re
import secrets
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from sekisho import demo
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.accounts import create_user
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from sekisho.server.web.app import create_app
from tests.needs import unavailable
from tests.pg import Cluster, PostgresMissing, throwaway_cluster

ISSUER = "http://testserver"
PASSWORD = "correct horse battery"
REDIRECT_URI = "https://app.example/callback"


class Clock:
    """Time that tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []  # every pause the app took, in order

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """The app's pauses: recorded, and taken at once (the clock does not move: parallel pauses overlap)."""
        self.slept.append(seconds)


@dataclass
class Registered:
    client_id: str
    client_secret: str | None


@dataclass
class World:
    """A running app with a user `alice` and two clients, and helpers to walk the flow."""

    http: TestClient
    clock: Clock
    database: str
    confidential: Registered
    public: Registered
    resource_server: Registered  # may introspect and revoke every client's tokens
    verifiers: dict[str, str] = field(default_factory=dict)

    def authorize_params(self, client_id: str, **overrides: str | None) -> dict[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "read:account write:notes",
            "state": "xyz-" + secrets.token_hex(4),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **overrides,
        }
        self.verifiers[challenge] = verifier
        return {k: v for k, v in params.items() if v is not None}

    def login(self, username: str = "alice", password: str = PASSWORD) -> None:
        page = self.http.get("/login")
        response = self.http.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": "/"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def consent(self, params: dict[str, str], decision: str = "allow") -> dict[str, list[str]]:
        """Show the consent page for `params` and press a button; returns the redirect's query."""
        page = self.http.get("/oauth/authorize", params=params)
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text)
        form["decision"] = decision
        response = self.http.post("/oauth/authorize", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith(params["redirect_uri"].split("?")[0])
        return parse_qs(urlsplit(location).query)

    def code(self, client_id: str | None = None, **overrides: str | None) -> tuple[str, str]:
        """(code, verifier) for a fresh authorization by alice."""
        params = self.authorize_params(client_id or self.public.client_id, **overrides)
        query = self.consent(params)
        return query["code"][0], self.verifiers[params["code_challenge"]]

    def exchange(self, code: str, verifier: str, client: Registered | None = None, **extra: str) -> dict[str, object]:
        client = client or self.public
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": REDIRECT_URI,
            "client_id": client.client_id,
            **extra,
        }
        if client.client_secret:
            data["client_secret"] = client.client_secret
        response = self.http.post("/oauth/token", data=data)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def tokens(self) -> dict[str, object]:
        return self.exchange(*self.code())


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def redirect_query(response: Response, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """The parameters of a 303 redirect to exactly `redirect_uri`; each appears once."""
    assert response.status_code == 303, response.text
    base, _, query = response.headers["location"].partition("?")
    assert base == redirect_uri
    parsed = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values()), parsed
    return {name: values[0] for name, values in parsed.items()}


def hidden_fields(html: str) -> dict[str, str]:
    import html as html_lib

    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return {name: html_lib.unescape(value) for name, value in fields}


async def _seed(database: str) -> tuple[Registered, Registered, Registered]:
    store = await SqlStore.open(database)
    try:
        await create_user(store, "alice", PASSWORD, 1_700_000_000)
        await create_user(store, "bob", PASSWORD, 1_700_000_000)
        common = {"known_scopes": DEFAULT_SCOPES, "now": 1_700_000_000, "scope": None, "grant_types": []}
        confidential, secret = await register_client(
            store,
            name="Confidential App",
            redirect_uris=[REDIRECT_URI],
            public=False,
            **common,  # type: ignore[arg-type]
        )
        public, _ = await register_client(
            store,
            name="Public App",
            redirect_uris=[REDIRECT_URI, "http://127.0.0.1/cb"],
            public=True,
            **common,  # type: ignore[arg-type]
        )
        api, api_secret = await register_client(
            store,
            name="Notes API",
            redirect_uris=[],
            public=False,
            resource_server=True,
            **common,  # type: ignore[arg-type]
        )
        return (
            Registered(confidential.client_id, secret),
            Registered(public.client_id, None),
            Registered(api.client_id, api_secret),
        )
    finally:
        await store.close()


BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "sekisho_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway cluster for the session, with a migrated template database to copy for each test."""
    folder = Path(tempfile.mkdtemp(prefix="sekisho-pg-"))  # under /tmp: the `postgres` user must reach it
    try:
        with throwaway_cluster(folder) as cluster:
            url = cluster.create_database(TEMPLATE)
            # In a thread of its own: the first test to ask may be running an event loop (Playwright's, say).
            with ThreadPoolExecutor(max_workers=1) as thread:
                thread.submit(asyncio.run, _migrate(url)).result()
            yield cluster
    except PostgresMissing as missing:
        unavailable(str(missing))


async def _migrate(url: str) -> None:
    store = await SqlStore.open(url)
    await store.close()


@dataclass
class Databases:
    """Fresh databases of one backend: a SQLite file in a folder, or a copy of the PostgreSQL template."""

    backend: str
    request: pytest.FixtureRequest
    counter: Iterator[int] = field(default_factory=itertools.count)

    def new(self, folder: Path, owner: pytest.FixtureRequest) -> str:
        """A fresh database, dropped when `owner` (the asking fixture's request) finishes."""
        if self.backend == "sqlite":
            return f"sqlite:///{folder / f'sekisho-{next(self.counter)}.db'}"
        cluster: Cluster = self.request.getfixturevalue("postgres")
        name = f"test_{next(self.counter)}_{secrets.token_hex(3)}"
        url = cluster.create_database(name, template=TEMPLATE)
        owner.addfinalizer(lambda: cluster.drop_database(name))
        return url

    def empty(self, folder: Path, owner: pytest.FixtureRequest) -> str:
        """A database with no schema at all, for migration tests."""
        if self.backend == "sqlite":
            return f"sqlite:///{folder / f'empty-{next(self.counter)}.db'}"
        cluster: Cluster = self.request.getfixturevalue("postgres")
        name = f"empty_{next(self.counter)}_{secrets.token_hex(3)}"
        url = cluster.create_database(name)
        owner.addfinalizer(lambda: cluster.drop_database(name))
        return url


@pytest.fixture(scope="session", params=BACKENDS)
def databases(request: pytest.FixtureRequest) -> Databases:
    return Databases(request.param, request)


@pytest.fixture
def database(databases: Databases, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return databases.new(tmp_path, request)


@contextmanager
def make_world(database: str, settings: Settings | None = None, **app_options: Any) -> Iterator[World]:
    """A seeded database and the app over it, the demo mounted (as `--demo-api` does; `plugins=()` leaves it out);
    `app_options` go to `create_app`."""
    confidential, public, resource_server = asyncio.run(_seed(database))
    clock = Clock()
    app_options.setdefault("sleep", clock.sleep)
    app_options.setdefault("plugins", (demo.mount,))
    app = create_app(settings or Settings(issuer=ISSUER, database=database), clock=clock, **app_options)
    with TestClient(app, base_url=ISSUER) as http:
        yield World(http, clock, database, confidential, public, resource_server)


@pytest.fixture
def world(database: str) -> Iterator[World]:
    with make_world(database) as running:
        yield running
