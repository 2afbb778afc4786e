"""The per-address limits on POST /oauth/device_authorization and POST /oauth/par over real HTTP: one parallel burst
split across two `sekisho serve` processes on one database (SQLite and PostgreSQL) gets exactly each limit."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.conftest import Databases
from tests.live import cli, live_server, pkce_pair, serve_for

pytestmark = pytest.mark.e2e

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REDIRECT = "http://127.0.0.1:9/callback"
BURST = 40


def test_a_burst_across_two_servers_on_one_database_gets_exactly_each_limit(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> None:
    """Forty device authorizations and forty pushes at once from one address, alternating between two servers that
    share a database: exactly 5 and 8 succeed, the rest are 429 with Retry-After and an RFC 6749 error body."""
    flags = ("--device-authorization-limit", "5", "--par-limit", "8")
    with serve_for(request, databases, tmp_path_factory, "limits-a", flags) as first:
        tv = add_client(first.database, "--name", "TV", "--public", "--grant-type", DEVICE_GRANT)
        app = add_client(first.database, "--name", "App", "--public", "--redirect-uri", REDIRECT)
        with live_server(tmp_path_factory.mktemp("limits-b"), flags, database=first.database) as second:
            answers = asyncio.run(burst([first.url, second.url], tv, app))
    devices, pushes = answers[:BURST], answers[BURST:]
    assert sorted(answer.status_code for answer in devices) == [200] * 5 + [429] * (BURST - 5)
    assert sorted(answer.status_code for answer in pushes) == [201] * 8 + [429] * (BURST - 8)
    for answer in answers:
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["retry-after"]) <= 60
            assert answer.json()["error"] == "too_many_requests"


def add_client(database: str, *args: str) -> str:
    client_id: str = json.loads(cli("client", "add", *args, "--json", database=database).stdout)["client_id"]
    return client_id


async def burst(urls: list[str], tv: str, app: str) -> list[httpx.Response]:
    _, challenge = pkce_pair()
    push = {"response_type": "code", "client_id": app, "redirect_uri": REDIRECT, "scope": "read:account"}
    push |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    device = {"client_id": tv, "scope": "read:account"}
    sends = [(n, "/oauth/device_authorization", device) for n in range(BURST)]
    sends += [(n, "/oauth/par", push) for n in range(BURST)]
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=2 * BURST), timeout=30) as http:
        return list(
            await asyncio.gather(*(http.post(urls[n % len(urls)] + path, data=form) for n, path, form in sends))
        )
