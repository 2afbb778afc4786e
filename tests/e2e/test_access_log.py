"""The access log of a whole flow, text (uvicorn's) and JSON (sekisho's): no code, token, state or MiAuth session."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.live import consent_over_http, live_server, pkce_pair

pytestmark = pytest.mark.e2e


def demo_password(output: str) -> str:
    found = re.search(r"Password\s+(\S+)", output)
    assert found, output
    return found.group(1)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_whole_flow_logs_no_code_or_token(tmp_path: Path, database: str, log_format: str) -> None:
    with live_server(tmp_path, ["--demo", "--log-format", log_format], database=database) as server:
        password = demo_password(server.output())
        verifier, challenge = pkce_pair()
        state = "state-" + secrets.token_urlsafe(12)
        params = {
            "response_type": "code",
            "client_id": "sekisho-demo",
            "redirect_uri": server.url + "/demo/callback",
            "scope": "read:account write:notes",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with httpx.Client(base_url=server.url, timeout=10) as browser:
            _, location = consent_over_http(browser, params, username="demo", password=password)
            assert browser.get(location).status_code == 200  # the callback page: its query has the code
            code = parse_qs(urlsplit(location).query)["code"][0]
            tokens = browser.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": server.url + "/demo/callback",
                    "client_id": "sekisho-demo",
                    "code_verifier": verifier,
                },
            ).json()
            access, refresh = tokens["access_token"], tokens["refresh_token"]
            browser.post("/api/i", params={"i": access, "access_token": access})
            browser.get("/", params={"refresh_token": refresh, "code": code})
            session = "session-" + secrets.token_urlsafe(12)
            miauth = {"name": "Logged bot", "callback": "http://127.0.0.1:9/cb", "permission": "read:account"}
            consent_over_http(browser, miauth, username="demo", password=password, path=f"/miauth/{session}")
            assert browser.post(f"/api/miauth/{session}/check").json()["ok"] is True
        output = server.output()
    assert "/demo/callback" in output and "REDACTED" in output, output
    for secret in (code, access, refresh, state, session, password):
        assert secret not in output.replace(f"Password    {password}", ""), secret
