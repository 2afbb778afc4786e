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
        password = re.search(r"Demo user: demo\s+password: (\S+)", server.output())
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


def test_demo_restart_prints_a_new_password_that_works(tmp_path: Path, database: str) -> None:
    passwords = []
    for _ in range(2):
        with live_server(tmp_path, ["--demo"], database=database) as server:
            found = re.search(r"password: (\S+)", server.output())
            assert found
            passwords.append(found.group(1))
    assert passwords[0] != passwords[1]


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
