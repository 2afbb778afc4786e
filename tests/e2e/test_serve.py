"""`sekisho serve` as a newcomer meets it: --demo, --workers, and the schema it migrates."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e import test_flow as flow
from tests.live import cli, form_field, live_server

pytestmark = pytest.mark.e2e


def test_demo_reaches_a_consent_page_and_the_callback_shows_the_next_step(tmp_path: Path, database: str) -> None:
    with live_server(tmp_path, ["--demo"], database=database) as server:
        password = re.search(r"Demo user\s+demo\n\s+Password\s+(\S+)", server.output())
        assert password, server.output()
        with httpx.Client(base_url=server.url, follow_redirects=True, timeout=10) as browser:
            home = browser.get("/")
            link = re.search(r'id="try-flow" href="([^"]+)"', home.text)
            assert link
            login_page = browser.get(link.group(1).replace("&amp;", "&"))
            assert "Sign in" in login_page.text
            consent = browser.post(
                "/login",
                data={
                    "username": "demo",
                    "password": password.group(1),
                    "csrf_token": form_field(login_page.text, "csrf_token"),
                    "next": form_field(login_page.text, "next"),
                },
            )
            assert "sekisho demo app" in consent.text and "Read your account information" in consent.text
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
            callback = browser.post("/oauth/authorize", data={**fields, "decision": "allow"})
            assert callback.url.path == "/demo/callback"
            query = parse_qs(urlsplit(str(callback.url)).query)
            assert query["iss"] == [server.url]
            # The page shows the exchange with the verifier the home page made: run it as shown.
            exchange = re.search(r'<pre id="exchange">(.*?)</pre>', callback.text, re.S)
            assert exchange
            args = dict(re.findall(r"-d (\w+)=(\S+)", exchange.group(1)))
            tokens = httpx.post(server.url + "/oauth/token", data=args).json()
            assert tokens["access_token"].startswith("sek_at_")


def test_demo_restart_keeps_the_password_of_the_database(tmp_path: Path, database: str) -> None:
    """One clear block at start, no Alembic INFO lines; the same password at every start of the same database."""
    passwords = []
    for _ in range(2):
        with live_server(tmp_path, ["--demo"], database=database) as server:
            output = server.output()
            found = re.search(r"Password\s+(\S+)", output)
            assert found, output
            passwords.append(found.group(1))
            assert "alembic" not in output.lower()
            assert f"sekisho serving {server.url} (database" in output
            assert f"Open        {server.url}/" in output
            assert f"sekisho login {server.url}" in output
    assert passwords[0] == passwords[1]


def test_workers_serve_flows_across_processes(tmp_path: Path, database: str) -> None:
    """Two worker processes share the port; state lives in the database, so any step may land on either."""
    cli("user", "add", "alice", "--password-stdin", database=database, stdin=flow.PASSWORD + "\n")
    with live_server(tmp_path, ["--workers", "2"], database=database) as server:
        client_id = flow.register(server, "--public")["client_id"]
        assert client_id
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
            for round_number in range(5):
                verifier, challenge = flow.pkce()
                query = flow.authorize(browser, client_id, challenge, f"round-{round_number}")
                tokens = browser.post(
                    "/oauth/token",
                    data={
                        "grant_type": "authorization_code",
                        "code": query["code"][0],
                        "redirect_uri": flow.REDIRECT,
                        "code_verifier": verifier,
                        "client_id": client_id,
                    },
                ).json()
                me = browser.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
                assert me.json()["username"] == "alice"
        pids = set(re.findall(r"Started server process \[(\d+)\]", server.output()))
        assert len(pids) == 2, server.output()
