"""DPoP over real HTTP: one proof sent at once to two `sekisho serve` processes sharing a database (SQLite, and
PostgreSQL in CI) is accepted exactly once; the token it gets is DPoP-bound."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from joserfc.jwk import ECKey

from sekisho.protocol import dpop
from tests.conftest import Databases
from tests.live import cli, live_server, serve_for

ISSUER = "https://as.example"  # both servers' issuer: the proof's htu names it, whichever one answers
BURST = 16


def test_one_proof_at_two_servers_is_accepted_once(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> None:
    flags = ("--issuer", ISSUER)
    with serve_for(request, databases, tmp_path_factory, "dpop-a", flags) as first:
        added = cli(
            "client", "add", "--name", "bot", "--grant-type", "client_credentials", "--json",
            database=first.database,
        )  # fmt: skip
        bot = json.loads(added.stdout)
        with live_server(tmp_path_factory.mktemp("dpop-b"), flags, database=first.database) as second:
            key = ECKey.generate_key("P-256")
            proof = dpop.sign(key, method="POST", url=ISSUER + "/oauth/token", now=int(time.time()), jti="once")
            answers = asyncio.run(_burst([first.url, second.url], proof, (bot["client_id"], bot["client_secret"])))
    won = [answer for answer in answers if answer.status_code == 200]
    assert len(won) == 1
    assert won[0].json()["token_type"] == "DPoP"
    lost = [answer.json()["error"] for answer in answers if answer.status_code != 200]
    assert lost == ["invalid_dpop_proof"] * (BURST - 1)


async def _burst(urls: list[str], proof: str, auth: tuple[str, str]) -> list[httpx.Response]:
    data = {"grant_type": "client_credentials", "scope": "read:account"}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=BURST)) as http:
        return await asyncio.gather(
            *(
                http.post(urls[n % 2] + "/oauth/token", data=data, auth=auth, headers={"DPoP": proof})
                for n in range(BURST)
            )
        )
