"""The device flow over real HTTP against a real `sekisho serve` (SQLite and PostgreSQL): `sekisho login --device`
denied and expired (one line, exit 1), a parallel burst of wrong user codes throttled, and a parallel burst of polls
on an approved code answered with tokens exactly once. The browser's side is in tests/browser/test_device.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests import sql
from tests.conftest import Databases
from tests.e2e.test_client_cli import Home, one_line_error
from tests.live import SEKISHO, LiveServer, cli, form_field, read_stderr_until, serve_for

pytestmark = pytest.mark.e2e

PASSWORD = "device flow password"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
BURST = 40


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(request, databases, tmp_path_factory, "device", user=("alice", PASSWORD)) as running:
        yield running


@pytest.fixture(scope="module")
def tv(server: LiveServer) -> str:
    """A public app registered for the device grant with `sekisho client add` (no redirect URI needed)."""
    added = cli(
        "client", "add", "--name", "Living Room TV", "--public", "--grant-type", GRANT,
        "--grant-type", "refresh_token", "--json", database=server.database,
    )  # fmt: skip
    client_id: str = json.loads(added.stdout)["client_id"]
    return client_id


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "config")


def start_device_login(home: Home, *args: str) -> tuple[subprocess.Popen[str], str, str]:
    """`sekisho login … --device`; the process, and the user code and verification_uri_complete it printed."""
    process = subprocess.Popen(
        [*SEKISHO, "login", *args, "--device"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=home.env
    )
    url = read_stderr_until(process, "?user_code=")[-1].strip()
    return process, url.rsplit("=", 1)[1], url


def decide_over_http(server: LiveServer, url: str, decision: str) -> str:
    """The person's side without a browser: open the URL, sign in, continue with the prefilled code, decide;
    returns the last page."""
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        first = browser.get(url)
        assert first.status_code == 303 and first.headers["location"].startswith("/login?next=%2Fdevice")
        login_page = browser.get(first.headers["location"])
        signed_in = browser.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrf_token": form_field(login_page.text, "csrf_token"),
                "next": form_field(login_page.text, "next"),
            },
        )
        entry = browser.get(signed_in.headers["location"])
        user_code = form_field(entry.text, "user_code")
        consent = browser.post(
            "/device", data={"user_code": user_code, "csrf_token": form_field(entry.text, "csrf_token")}
        )
        assert consent.status_code == 200 and 'name="decision"' in consent.text, consent.text
        fields = {name: form_field(consent.text, name) for name in ("csrf_token", "user_code")}
        done = browser.post("/device", data=fields | {"decision": decision})
        assert done.status_code == 200, done.text
        return done.text


def test_a_denial_is_one_line_and_exit_1(server: LiveServer, tv: str, home: Home) -> None:
    process, _, url = start_device_login(home, server.url, "--client-id", tv)
    assert "Access denied" in decide_over_http(server, url, "deny")
    out, err = process.communicate(timeout=30)
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert "denied" in one_line_error(done)
    assert home.account_files() == []


def test_an_expired_code_is_one_line_and_exit_1(server: LiveServer, tv: str, home: Home) -> None:
    process, user_code, _ = start_device_login(home, server.url, "--client-id", tv)
    with sql.connect(server.database) as connection:  # the server's clock cannot be moved: the row is aged
        aged = text("UPDATE device_codes SET expires_at = 0 WHERE user_code = :code")
        connection.execute(aged, {"code": user_code.replace("-", "")})
        connection.commit()
    out, err = process.communicate(timeout=30)
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert "expired" in one_line_error(done)
    assert home.account_files() == []


async def _signed_in(server: LiveServer, http: httpx.AsyncClient) -> str:
    """Sign alice in on `http`; the CSRF token of the /device form."""
    login_page = await http.get("/login")
    signed_in = await http.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": form_field(login_page.text, "csrf_token")},
    )
    assert signed_in.status_code == 303
    return form_field((await http.get("/device")).text, "csrf_token")


@pytest.fixture
def fresh(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """A server of its own: the burst uses up the address's entries (127.0.0.1 is every test's address)."""
    with serve_for(request, databases, tmp_path_factory, "device-burst", user=("alice", PASSWORD)) as running:
        yield running


def test_a_burst_of_wrong_user_codes_is_throttled(fresh: LiveServer) -> None:
    server = fresh
    tv = json.loads(
        cli(
            "client", "add", "--name", "TV", "--public", "--grant-type", GRANT, "--json", database=server.database
        ).stdout
    )["client_id"]
    started = httpx.post(server.url + "/oauth/device_authorization", data={"client_id": tv, "scope": "read:account"})
    right_code = started.json()["user_code"]

    async def burst() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            csrf = await _signed_in(server, http)
            wrong = [f"BCDF-{letters}" for letters in ("GHJK", "GHJL", "GHJM", "GHJN") * (BURST // 4)]
            answers = await asyncio.gather(
                *(http.post("/device", data={"user_code": code, "csrf_token": csrf}) for code in wrong)
            )
            right = await http.post("/device", data={"user_code": right_code, "csrf_token": csrf})
            return list(answers), right

    answers, right = asyncio.run(burst())
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {400, 429}, statuses
    assert statuses.count(400) == 11  # the free entries, and the one that starts the block
    for answer in answers:
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["retry-after"]) <= 60 and "Too many codes" in answer.text
    assert right.status_code == 429  # blocked is blocked: the right code does not get through either


def test_a_burst_of_polls_on_an_approved_code_gets_one_token_response(server: LiveServer, tv: str) -> None:
    started = httpx.post(server.url + "/oauth/device_authorization", data={"client_id": tv, "scope": "read:account"})
    body = started.json()
    decide_over_http(server, body["verification_uri_complete"], "allow")
    form = {"grant_type": GRANT, "device_code": body["device_code"], "client_id": tv}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            return list(await asyncio.gather(*(http.post("/oauth/token", data=form) for _ in range(BURST))))

    answers = asyncio.run(burst())
    assert sorted(answer.status_code for answer in answers) == [200] + [400] * (BURST - 1)
    assert {answer.json()["error"] for answer in answers if answer.status_code == 400} == {"invalid_grant"}
    [tokens] = [answer.json() for answer in answers if answer.status_code == 200]
    me = httpx.post(server.url + "/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"
