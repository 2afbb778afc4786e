"""PostgreSQL going away under a running `sekisho serve`: clean 503s with Retry-After, then full service again.

Each test has a cluster of its own (tests/pg.py), since it stops that cluster or cuts its connections.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.live import LiveServer, cli, live_server, post_token, user_code, user_tokens
from tests.load import read_record
from tests.needs import unavailable
from tests.pg import Cluster, PostgresMissing, throwaway_cluster

pytestmark = pytest.mark.e2e

REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Rig:
    cluster: Cluster
    server: LiveServer
    database: str
    client: tuple[str, str]
    api: tuple[str, str]

    def token(self) -> httpx.Response:
        return httpx.post(
            self.server.url + "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "read:account"},
            auth=self.client,
            timeout=15,
        )

    def active(self, token: str) -> httpx.Response:
        return httpx.post(self.server.url + "/oauth/introspect", data={"token": token}, auth=self.api, timeout=15)

    def inactive(self, tokens: list[str]) -> list[str]:
        """Those of `tokens` that introspection does not call active (over one connection)."""
        with httpx.Client(base_url=self.server.url, auth=self.api, timeout=15) as http:
            return [
                token
                for token in tokens
                if http.post("/oauth/introspect", data={"token": token}).json()["active"] is not True
            ]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    folder = Path(tempfile.mkdtemp(prefix="sekisho-pg-fault-"))
    try:
        cluster_context = throwaway_cluster(folder)
        cluster = cluster_context.__enter__()
    except PostgresMissing as missing:
        unavailable(str(missing))
    try:
        database = cluster.create_database("faults")
        cli("user", "add", "alice", "--password-stdin", database=database, stdin=PASSWORD + "\n")
        client = json.loads(
            cli(
                "client", "add", "--name", "Bot", "--grant-type", "client_credentials", "--json", database=database
            ).stdout
        )
        api = json.loads(cli("client", "add", "--name", "API", "--resource-server", "--json", database=database).stdout)
        with live_server(tmp_path, database=database) as server:
            yield Rig(
                cluster,
                server,
                database,
                (client["client_id"], client["client_secret"]),
                (api["client_id"], api["client_secret"]),
            )
            assert "Traceback" not in server.output(), server.output()
    finally:
        cluster_context.__exit__(None, None, None)


def unavailable_answer(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["cache-control"] == "no-store"


def test_a_postgresql_restart_gives_clean_503s_and_then_full_service(rig: Rig) -> None:
    before = rig.token()
    assert before.status_code == 200, before.text
    issued = before.json()["access_token"]

    rig.cluster.stop("fast")
    try:
        unavailable_answer(rig.token())
        unavailable_answer(rig.active(issued))
        me = httpx.post(rig.server.url + "/api/i", headers={"Authorization": f"Bearer {issued}"}, timeout=15)
        assert me.status_code == 503, me.text
        login = httpx.get(rig.server.url + "/login", timeout=15)
        assert login.status_code in (200, 503), login.text  # the form itself needs no database
        assert httpx.get(rig.server.url + "/.well-known/oauth-authorization-server", timeout=15).status_code == 200
        assert httpx.get(rig.server.url + "/healthz", timeout=15).status_code == 200  # alive: do not restart it
        not_ready = httpx.get(rig.server.url + "/readyz", timeout=15)
        assert not_ready.status_code == 503 and not_ready.json()["status"] == "unavailable"
        assert int(not_ready.headers["retry-after"]) > 0
    finally:
        rig.cluster.start()

    # Back without restarting sekisho: the pool replaces its dead connections by itself.
    deadline = time.monotonic() + 20
    while (answer := rig.token()).status_code != 200 and time.monotonic() < deadline:
        unavailable_answer(answer)
        time.sleep(0.2)
    assert answer.status_code == 200, answer.text
    assert rig.active(issued).json()["active"] is True  # what was issued before the outage still holds
    assert httpx.get(rig.server.url + "/readyz", timeout=15).status_code == 200
    assert rig.active(answer.json()["access_token"]).json()["active"] is True


def test_connections_cut_mid_traffic_never_give_a_500_or_a_token_that_does_not_work(rig: Rig) -> None:
    tokens: list[str] = []
    statuses: list[int] = []
    for round_number in range(30):
        if round_number % 5 == 0:  # cut every sekisho connection, as a failover or a network blip would
            rig.cluster.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'faults' AND pid <> pg_backend_pid();"
            )
        answer = rig.token()
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            tokens.append(answer.json()["access_token"])
        else:
            unavailable_answer(answer)
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 24, (
        statuses
    )  # a dead pooled connection is replaced, mostly without the client noticing
    assert rig.inactive(tokens) == []


def test_a_postgresql_restart_under_load_from_another_process(rig: Rig, tmp_path: Path) -> None:
    """A second process asks for tokens, rotates refresh-token chains and exchanges codes while PostgreSQL stops and
    starts: 200s, then 503s, then 200s, and nothing half-issued. A chain answered 503 sends the same refresh token
    again until the database is back, and goes on from there; a code answered 503 is still good afterwards.

    One case is allowed besides: a rotation or exchange whose COMMIT reached PostgreSQL just as it stopped is answered
    503 (its outcome unknown to sekisho) and then refused as a replay when sent again, which revokes its grant (one
    per user and client), as RFC 6749 §10.4 and §4.1.2 require. So each chain has a user of its own, and the test
    counts those refusals; in practice they are rare.
    """
    app = json.loads(
        cli(
            "client", "add", "--name", "App", "--redirect-uri", REDIRECT, "--public", "--json", database=rig.database
        ).stdout
    )
    public = (app["client_id"], None)
    login = {"redirect_uri": REDIRECT, "scope": "read:account", "password": PASSWORD}
    chains = []
    for number in range(4):
        cli("user", "add", f"chain{number}", "--password-stdin", database=rig.database, stdin=PASSWORD + "\n")
        tokens = user_tokens(rig.server.url, {**app, "client_secret": None}, username=f"chain{number}", **login)
        chains.append(tokens["refresh_token"])
    codes = [{"form": user_code(rig.server.url, app["client_id"], username="alice", **login)} for _ in range(24)]
    plan = {
        "url": rig.server.url,
        "client_id": rig.client[0],
        "client_secret": rig.client[1],
        "client_credentials": {"grant_type": "client_credentials", "scope": "read:account"},
        "app_id": app["client_id"],
        "refresh_tokens": chains,
        "retry_unavailable": True,
        "codes": codes,
        "code_interval": 0.5,
        "cc_threads": 4,
        "stop_on_error": False,
        "seconds": 14,
        "requests": 50_000,
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    record = tmp_path / "record.jsonl"
    load = subprocess.Popen([sys.executable, "-m", "tests.load", str(tmp_path / "plan.json"), str(record)])
    try:
        time.sleep(3)
        rig.cluster.stop("fast")
        time.sleep(4)
        rig.cluster.start()
    finally:
        load.wait(timeout=60)
    assert load.returncode == 0
    answers = read_record(record)

    machine = [answer["status"] for answer in answers if answer["kind"] == "client_credentials"]
    assert set(machine) <= {200, 503}, {status for status in machine if status not in (200, 503)}
    first_503 = machine.index(503)
    last_503 = len(machine) - 1 - machine[::-1].index(503)
    assert 200 in machine[:first_503] and 200 in machine[last_503:], "service before and after the outage"
    for answer in answers:
        if answer["status"] == 503:
            assert answer["body"]["error"] == "temporarily_unavailable"

    # Each chain: 200s, 503s for the same refresh token, then 200s again; or, at most once, ending in a replay.
    refused_chains = set()
    for number in range(len(chains)):
        rotations = [answer for answer in answers if answer["kind"] == "refresh" and answer.get("chain") == number]
        statuses = [answer["status"] for answer in rotations]
        assert 503 in statuses, f"chain {number} was not rotating during the outage: {statuses}"
        assert set(statuses) <= {200, 503, 400}, statuses
        if 400 in statuses:
            assert statuses.index(400) == len(statuses) - 1 and statuses[-2] == 503, statuses
            assert rotations[-1]["body"]["error"] == "invalid_grant"
            refused_chains.add(number)
        else:
            assert statuses[-1] == 200, f"chain {number} did not go on after the outage: {statuses}"
        for earlier, later in zip(rotations, rotations[1:], strict=False):
            expected = earlier["body"]["refresh_token"] if earlier["status"] == 200 else earlier["used"]
            assert later["used"] == expected, "a chain sends the token it holds"
    assert len(refused_chains) < len(chains), "the chains went on after the outage"

    exchanges = [answer for answer in answers if answer["kind"] == "code"]
    assert {answer["status"] for answer in exchanges} <= {200, 503}
    assert 503 in [answer["status"] for answer in exchanges], "codes were being exchanged during the outage"

    # Every access token received works. The codes' go first (codes live two minutes), and before the replays below.
    def access_tokens(answers: list[dict[str, Any]]) -> list[str]:
        return [answer["body"]["access_token"] for answer in answers if answer["status"] == 200]

    url = rig.server.url
    assert rig.inactive(access_tokens(exchanges)) == []

    # A code answered 503 was not used, so it is good now; unless its COMMIT had landed: then it is refused like any
    # replay, which revokes alice's grant, and every code after it is refused too. A code answered 200 is refused now.
    forms = {code["form"]["code"]: code["form"] for code in codes}
    retried = []
    for answer in exchanges:
        if answer["status"] == 503:
            again = post_token(url, forms[answer["code"]], client=public)
            if again.status_code == 200:
                assert rig.inactive([again.json()["access_token"]]) == []
            else:
                assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
            retried.append(again.status_code)
    assert retried == sorted(retried), f"a code was good after a refusal had revoked the grant: {retried}"
    for answer in exchanges:
        if answer["status"] == 200:
            replay = post_token(url, forms[answer["code"]], client=public)
            assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text

    others = [answer for answer in answers if answer["kind"] != "code" and answer.get("chain") not in refused_chains]
    assert rig.inactive(access_tokens(others)) == []
    assert rig.server.process.poll() is None  # the same sekisho process throughout
    outage = sum(answer["status"] == 503 for answer in answers)
    print(
        f"postgresql restart: {len(answers)} requests, {outage} answered 503, {len(access_tokens(answers))} tokens "
        f"checked; codes answered 503 then good: {retried.count(200)}, then refused: {retried.count(400)}; "
        f"chains refused after a 503: {len(refused_chains)} of {len(chains)}"
    )
