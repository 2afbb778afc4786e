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

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.live import LiveServer, cli, live_server
from tests.load import read_record
from tests.needs import unavailable
from tests.pg import Cluster, PostgresMissing, throwaway_cluster

pytestmark = pytest.mark.e2e


@dataclass
class Rig:
    cluster: Cluster
    server: LiveServer
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
    for token in tokens:
        assert rig.active(token).json()["active"] is True


def test_a_postgresql_restart_under_load_from_another_process(rig: Rig, tmp_path: Path) -> None:
    """A second process keeps asking for tokens while PostgreSQL stops and starts: 200s, then 503s, then 200s."""
    plan = {
        "url": rig.server.url,
        "client_id": rig.client[0],
        "client_secret": rig.client[1],
        "client_credentials": {"grant_type": "client_credentials", "scope": "read:account"},
        "refresh_tokens": [],
        "codes": [],
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
    answers = read_record(record)
    statuses = [answer["status"] for answer in answers]
    assert set(statuses) <= {200, 503}, {status for status in statuses if status not in (200, 503)}
    first_503 = statuses.index(503)
    last_503 = len(statuses) - 1 - statuses[::-1].index(503)
    assert 200 in statuses[:first_503] and 200 in statuses[last_503:], "service before and after the outage"
    for answer in answers:
        if answer["status"] == 503:
            assert answer["body"]["error"] == "temporarily_unavailable"
    received = [answer["body"]["access_token"] for answer in answers if answer["status"] == 200]
    assert all(rig.active(token).json()["active"] is True for token in received)
    assert rig.server.process.poll() is None  # the same sekisho process throughout
    outage = statuses.count(503)
    print(f"postgresql restart: {len(answers)} requests, {outage} answered 503, {len(received)} tokens checked")
