"""Pushed authorization requests (RFC 9126): the push, its checks, the request_uri at /oauth/authorize (single use,
bound to the client, short-lived), `require_pushed_authorization_requests`, each tried as an attacker would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from httpx2 import Response

from sekisho.protocol import tokens
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.par import REQUEST_URI_PREFIX
from sekisho.server.purge import purge
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import ISSUER, PASSWORD, REDIRECT_URI, World, hidden_fields, make_world
from tests.live import cli, live_server, pkce_pair, sign_in
from tests.server.test_authorize import error_page

JSON = {"accept": "application/json"}


def push(world: World, params: dict[str, str], *, secret: str | None = None, **headers: str) -> Response:
    """POST `params` to /oauth/par; with `secret`, the client authenticates with HTTP Basic."""
    if secret is None:
        return world.http.post("/oauth/par", data=params, headers=headers)
    auth = (params["client_id"], secret)
    return world.http.post("/oauth/par", data=params, auth=auth, headers=headers)


def pushed(world: World, client_id: str | None = None, **overrides: str | None) -> tuple[dict[str, str], str]:
    """(the request pushed, its request_uri) for the public client (or `client_id`, public too)."""
    params = world.authorize_params(client_id or world.public.client_id, **overrides)
    response = push(world, params)
    assert response.status_code == 201, response.text
    return params, response.json()["request_uri"]


def authorize(world: World, client_id: str, request_uri: str, **extra: str) -> Response:
    query = {"client_id": client_id, "request_uri": request_uri, **extra}
    return world.http.get("/oauth/authorize", params=query, follow_redirects=False)


def allow(world: World, page: Response) -> dict[str, list[str]]:
    """Press Allow on the consent `page`; the redirect's query."""
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "decision": "allow"}
    decided = world.http.post("/oauth/authorize", data=form, follow_redirects=False)
    assert decided.status_code == 303, decided.text
    assert decided.headers["location"].startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(decided.headers["location"]).query)


def refused_json(response: Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def test_the_push_answers_a_one_time_uri(world: World) -> None:
    params = world.authorize_params(world.public.client_id)
    response = push(world, params)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"request_uri", "expires_in"} and body["expires_in"] == 60
    assert body["request_uri"].startswith(REQUEST_URI_PREFIX)
    assert len(body["request_uri"]) > len(REQUEST_URI_PREFIX) + 40
    # only a digest of it is stored
    [(digest,)] = sql.rows(world.database, "SELECT digest FROM pushed_requests")
    assert body["request_uri"].removeprefix(REQUEST_URI_PREFIX) not in str(digest)
    # a confidential client authenticates as at the token endpoint (Basic), public clients with their client_id
    confidential = world.authorize_params(world.confidential.client_id)
    assert push(world, confidential, secret=world.confidential.client_secret).status_code == 201
    del confidential["client_id"]
    basic = world.http.post(
        "/oauth/par", data=confidential, auth=(world.confidential.client_id, str(world.confidential.client_secret))
    )
    assert basic.status_code == 201, basic.text


def test_the_whole_flow_signing_in_first(world: World) -> None:
    """Not signed in: the request_uri is only looked at and carried through the login; taken at the consent."""
    params, request_uri = pushed(world)
    first = authorize(world, world.public.client_id, request_uri)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?next=")
    next_url = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    assert parse_qs(urlsplit(next_url).query) == {"client_id": [world.public.client_id], "request_uri": [request_uri]}
    assert sql.count(world.database, "pushed_requests") == 1  # not used up by the sign-in detour
    assert sign_in(world.http, first.headers["location"], username="alice", password=PASSWORD) == next_url
    page = world.http.get(next_url, follow_redirects=False)
    assert sql.count(world.database, "pushed_requests") == 0  # taken
    query = allow(world, page)
    assert query["state"] == [params["state"]] and query["iss"] == [ISSUER]
    tokens = world.exchange(query["code"][0], world.verifiers[params["code_challenge"]])
    assert tokens["scope"] == params["scope"]
    refreshed = world.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": params["client_id"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text


def test_a_request_uri_is_used_once(world: World) -> None:
    world.login()
    _, request_uri = pushed(world)
    assert authorize(world, world.public.client_id, request_uri).status_code == 200
    error_page(authorize(world, world.public.client_id, request_uri), "invalid_request_uri")


def test_parallel_uses_give_one_consent_page(database: str) -> None:
    """Two stores over one database (two servers' worth), eight takes of one request at once: one wins."""
    with make_world(database) as world:
        _, request_uri = pushed(world)
    digest = tokens.digest(request_uri.removeprefix(REQUEST_URI_PREFIX))

    async def burst() -> list[str | None]:
        stores = [await SqlStore.open(database, migrate_schema=False) for _ in range(2)]
        try:
            now = 1_800_000_001
            takes = (stores[i % 2].pushed_requests.take(digest, world.public.client_id, now) for i in range(8))
            return list(await asyncio.gather(*takes))
        finally:
            for store in stores:
                await store.close()

    results = asyncio.run(burst())
    assert sum(result is not None for result in results) == 1


def test_another_clients_request_uri_is_refused_and_left_alone(world: World) -> None:
    world.login()
    _, request_uri = pushed(world)
    error_page(authorize(world, world.confidential.client_id, request_uri), "invalid_request_uri")
    error_page(world.http.get("/oauth/authorize", params={"request_uri": request_uri}), "invalid_request")
    # the owner can still use it: another client's attempt took nothing
    assert authorize(world, world.public.client_id, request_uri).status_code == 200


def test_expired_and_unknown_request_uris(world: World) -> None:
    world.login()
    _, request_uri = pushed(world)
    world.clock.advance(60)
    error_page(authorize(world, world.public.client_id, request_uri), "invalid_request_uri")
    error_page(authorize(world, world.public.client_id, REQUEST_URI_PREFIX + "x" * 43), "invalid_request_uri")
    error_page(authorize(world, world.public.client_id, "https://evil.example/request"), "invalid_request_uri")
    # not signed in, the same look-up before any detour to the login page
    world.http.cookies.clear()
    error_page(authorize(world, world.public.client_id, request_uri), "invalid_request_uri")


def test_parameters_next_to_the_request_uri_are_ignored(world: World) -> None:
    """RFC 9126 §4: only the pushed request counts, whatever the front channel adds."""
    world.login()
    params, request_uri = pushed(world, scope="read:account")
    injected = {"redirect_uri": "https://evil.example/cb", "scope": "write:notes", "state": "forged"}
    page = authorize(world, world.public.client_id, request_uri, **injected)
    fields = hidden_fields(page.text)
    assert fields["redirect_uri"] == REDIRECT_URI and fields["scope"] == "read:account"
    assert fields["state"] == params["state"]
    query = allow(world, page)
    assert query["state"] == [params["state"]]


def test_get_on_the_push_endpoint_is_405(world: World) -> None:
    assert world.http.get("/oauth/par", params=world.authorize_params(world.public.client_id)).status_code == 405


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "admin:everything"}, "invalid_scope"),
        ({"resource": "https://elsewhere.example/"}, "invalid_target"),
        ({"request_uri": REQUEST_URI_PREFIX + "abc"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request"),
    ],
)
def test_bad_pushes_are_json_errors(world: World, overrides: dict[str, str | None], error: str) -> None:
    refused_json(push(world, world.authorize_params(world.public.client_id, **overrides)), error)
    assert sql.count(world.database, "pushed_requests") == 0


def test_the_push_authenticates_the_client(world: World) -> None:
    params = world.authorize_params(world.confidential.client_id)
    refused_json(push(world, params, secret="wrong"), "invalid_client", 401)
    refused_json(push(world, params), "invalid_client", 401)  # a confidential client without its secret
    refused_json(push(world, {**params, "client_id": "nobody"}), "invalid_client", 401)
    no_id = world.authorize_params(world.public.client_id)
    del no_id["client_id"]
    refused_json(push(world, no_id), "invalid_client", 401)
    json_body = world.http.post("/oauth/par", json=world.authorize_params(world.public.client_id))
    refused_json(json_body, "invalid_request")


def test_metadata_advertises_the_endpoint(world: World) -> None:
    body = world.http.get("/.well-known/oauth-authorization-server").json()
    assert body["pushed_authorization_request_endpoint"] == f"{ISSUER}/oauth/par"
    assert body["require_pushed_authorization_requests"] is False


@pytest.fixture
def strict(database: str) -> Iterator[World]:
    with make_world(database, Settings(issuer=ISSUER, database=database, require_par=True)) as running:
        yield running


def test_a_server_that_requires_pushes(strict: World) -> None:
    world = strict
    body = world.http.get("/.well-known/oauth-authorization-server").json()
    assert body["require_pushed_authorization_requests"] is True
    world.login()
    params = world.authorize_params(world.public.client_id)
    error_page(world.http.get("/oauth/authorize", params=params, follow_redirects=False), "invalid_request")
    # not even by POST (RFC 6749 §3.1 lets a request come as a form), nor signed out
    posted = world.http.post("/oauth/authorize", data=params, follow_redirects=False)
    error_page(posted, "invalid_request")
    _, request_uri = pushed(world)
    query = allow(world, authorize(world, world.public.client_id, request_uri))
    assert "code" in query


def test_a_client_that_requires_pushes(world: World) -> None:
    async def add() -> str:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            client, _ = await register_client(
                store,
                name="Strict App",
                redirect_uris=[REDIRECT_URI],
                public=True,
                scope=None,
                grant_types=[],
                known_scopes=DEFAULT_SCOPES,
                now=1_700_000_000,
                require_par=True,
            )
            return client.client_id
        finally:
            await store.close()

    strict_id = asyncio.run(add())
    world.login()
    params = world.authorize_params(strict_id)
    error_page(world.http.get("/oauth/authorize", params=params, follow_redirects=False), "invalid_request")
    # never redirected, though the redirect URI is registered: errors for it go to a page
    assert world.consent(world.authorize_params(world.public.client_id))["code"]  # others need not push
    _, request_uri = pushed(world, strict_id)
    assert "code" in allow(world, authorize(world, strict_id, request_uri))
    assert (
        world.http.get("/.well-known/oauth-authorization-server").json()["require_pushed_authorization_requests"]
        is False
    )


def test_purge_takes_expired_pushed_requests(world: World) -> None:
    pushed(world)
    world.clock.advance(61)

    async def run() -> dict[str, int]:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            return await purge(store, int(world.clock()))
        finally:
            await store.close()

    assert asyncio.run(run())["pushed_requests"] == 1


def test_two_servers_one_burst(database: str, tmp_path: Path) -> None:
    """Two `sekisho serve` on one database, one signed-in browser: eight GETs of one request_uri at once, spread
    over both servers, show the consent page once."""
    tmp = tmp_path
    added = cli(
        "client", "add", "--name", "Burst", "--public", "--redirect-uri", REDIRECT_URI, "--json", database=database
    )
    client_id = json.loads(added.stdout)["client_id"]
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    with (
        live_server(tmp / "a", database=database, user=("carol", PASSWORD)) as one,
        live_server(tmp / "b", database=database) as two,
    ):
        with httpx.Client(base_url=one.url) as browser:
            sign_in(browser, username="carol", password=PASSWORD)
            cookies = dict(browser.cookies)
            _, challenge = pkce_pair()
            params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
            params |= {"scope": "read:account", "code_challenge": challenge, "code_challenge_method": "S256"}
            request_uri = browser.post("/oauth/par", data=params).json()["request_uri"]

        async def burst() -> list[int]:
            clients = [httpx.AsyncClient(base_url=url, cookies=cookies) for url in (one.url, two.url)]
            try:
                query = {"client_id": client_id, "request_uri": request_uri}
                gets = (clients[i % 2].get("/oauth/authorize", params=query) for i in range(8))
                return [response.status_code for response in await asyncio.gather(*gets)]
            finally:
                for client in clients:
                    await client.aclose()

        statuses = asyncio.run(burst())
    assert sorted(statuses) == [200] + [400] * 7, statuses
