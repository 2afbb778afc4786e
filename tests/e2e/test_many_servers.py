"""Two `sekisho serve` processes on one PostgreSQL: any step of a flow may land on either, as behind a load balancer.

Both share the issuer (the balancer's address) and nothing but the database: sessions, CSRF key, codes, tokens and
revocations live there. The races here send the two competing requests to the two different servers at once.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import TEMPLATE, hidden_fields
from tests.live import LiveServer, cli, live_server, pkce_pair, sign_in
from tests.pg import Cluster

pytestmark = pytest.mark.e2e

ISSUER = "http://sekisho.test"  # what both servers stand behind
PASSWORD = "two servers password"
REDIRECT = "http://127.0.0.1:9/callback"
ROUNDS = 4
USERS = ("alice", "bob", "carol", "dave")


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer
    client_id: str

    def token(self, server: LiveServer, **form: str) -> httpx.Response:
        return httpx.post(server.url + "/oauth/token", data={"client_id": self.client_id, **form}, timeout=10)


@pytest.fixture(scope="module")
def pair(postgres: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    name = f"two_servers_{secrets.token_hex(3)}"
    database = postgres.create_database(name, template=TEMPLATE)
    tmp: Path = tmp_path_factory.mktemp("two-servers")
    for name in USERS:
        cli("user", "add", name, "--password-stdin", database=database, stdin=PASSWORD + "\n")
    added = cli(
        "client", "add", "--name", "Balanced", "--redirect-uri", REDIRECT, "--public", "--json", database=database
    )
    try:
        with (
            live_server(tmp, ["--issuer", ISSUER], database=database) as a,
            live_server(tmp, ["--issuer", ISSUER], database=database) as b,
        ):
            yield Pair(a, b, json.loads(added.stdout)["client_id"])
            assert "Traceback" not in a.output() + b.output()
    finally:
        postgres.drop_database(name)


def code_across(pair: Pair, browser: httpx.Client, first: LiveServer, second: LiveServer) -> tuple[str, str]:
    """authorize on `first`, sign in and consent on `second`: (code, verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": pair.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read:account write:notes",
        "state": secrets.token_hex(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    asked = browser.get(first.url + "/oauth/authorize", params=params)
    if asked.status_code == 303:  # not signed in yet: the login page of the other server
        back = sign_in(browser, second.url + asked.headers["location"], username="alice", password=PASSWORD)
        asked = browser.get(first.url + back)
    assert asked.status_code == 200, asked.text
    fields = hidden_fields(asked.text)  # the consent form that `first` rendered, sent to `second`:
    decided = browser.post(second.url + "/oauth/authorize", data={**fields, "decision": "allow"})
    assert decided.status_code == 303, decided.text
    query = parse_qs(urlsplit(decided.headers["location"]).query)
    assert query["iss"] == [ISSUER] and query["state"] == [params["state"]]
    return query["code"][0], verifier


def me(server: LiveServer, access_token: str) -> int:
    return httpx.post(
        server.url + "/api/i", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    ).status_code


def test_one_flow_walks_across_both_servers(pair: Pair) -> None:
    """authorize on A, consent on B, token on A, refresh on B, revoke on A: each server sees what the other did."""
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        code, verifier = code_across(pair, browser, pair.a, pair.b)
    issued = pair.token(
        pair.a, grant_type="authorization_code", code=code, code_verifier=verifier, redirect_uri=REDIRECT
    )
    assert issued.status_code == 200, issued.text
    first = issued.json()
    assert me(pair.b, first["access_token"]) == 200

    refreshed = pair.token(pair.b, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    # The rotated-away refresh token is dead on A too.
    reused = pair.token(pair.a, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        code, verifier = code_across(pair, browser, pair.b, pair.a)
    fresh = pair.token(
        pair.b, grant_type="authorization_code", code=code, code_verifier=verifier, redirect_uri=REDIRECT
    )
    tokens = fresh.json()
    assert me(pair.a, tokens["access_token"]) == 200
    refreshed = pair.token(pair.a, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    revoked = httpx.post(
        pair.a.url + "/oauth/revoke",
        data={"token": refreshed["refresh_token"], "client_id": pair.client_id},
        timeout=10,
    )
    assert revoked.status_code == 200
    assert me(pair.b, refreshed["access_token"]) == 401  # the grant family ended, seen by the other server
    again = pair.token(pair.b, grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert again.json()["error"] == "invalid_grant"


def at_once(requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    """Each (url, form) POSTed from its own thread and connection, all released at the same moment."""
    start = threading.Barrier(len(requests))

    def post(url: str, form: dict[str, str]) -> httpx.Response:
        with httpx.Client(timeout=20) as http:
            http.get(url.rsplit("/oauth/", 1)[0] + "/.well-known/oauth-authorization-server")  # connect first
            start.wait(timeout=20)
            return http.post(url, data=form)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(post, url, form) for url, form in requests]
        return [future.result(timeout=60) for future in futures]


def test_one_code_exchanged_on_both_servers_at_once_has_one_winner(pair: Pair) -> None:
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        for _ in range(ROUNDS):
            code, verifier = code_across(pair, browser, pair.a, pair.a)
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": REDIRECT,
                "client_id": pair.client_id,
            }
            answers = at_once([(server.url + "/oauth/token", form) for server in (pair.a, pair.b, pair.a, pair.b)])
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [200, 400, 400, 400], [answer.text for answer in answers]
            winner = next(answer for answer in answers if answer.status_code == 200).json()
            assert {answer.json()["error"] for answer in answers if answer.status_code == 400} == {"invalid_grant"}
            assert me(pair.b, winner["access_token"]) == 401, "a replayed code revokes what the winner got"


def test_one_refresh_token_rotated_on_both_servers_at_once_has_one_winner(pair: Pair) -> None:
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        for _ in range(ROUNDS):
            code, verifier = code_across(pair, browser, pair.a, pair.b)
            issued = pair.token(
                pair.a, grant_type="authorization_code", code=code, code_verifier=verifier, redirect_uri=REDIRECT
            ).json()
            form = {
                "grant_type": "refresh_token",
                "refresh_token": issued["refresh_token"],
                "client_id": pair.client_id,
            }
            answers = at_once([(server.url + "/oauth/token", form) for server in (pair.a, pair.b, pair.b, pair.a)])
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [200, 400, 400, 400], [answer.text for answer in answers]
            winner = next(answer for answer in answers if answer.status_code == 200).json()
            assert me(pair.a, winner["access_token"]) == 401, "refresh token reuse revokes the whole grant"


def test_parallel_logins_on_both_servers_each_get_a_working_session(pair: Pair) -> None:
    """Eight logins at once, two per account (more than five of one account at once would be throttled by design:
    docs/security.md), half on each server."""

    def log_in(server: LiveServer, username: str) -> str:
        with httpx.Client(timeout=30, follow_redirects=False) as browser:
            sign_in(browser, server.url + "/login?next=/settings/apps", username=username, password=PASSWORD)
            apps = browser.get(server.url + "/settings/apps")
            assert apps.status_code == 200 and username in apps.text, apps.text
            return str(browser.cookies.get("sekisho_session"))

    servers = [pair.a, pair.b] * 4
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        sessions = list(pool.map(log_in, servers, USERS * 2))
    assert len(set(sessions)) == len(servers)  # one new session each, none lost to a race
