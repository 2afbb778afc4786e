"""`sekisho serve --log-format json`: every line on stderr is one JSON object, one per request, security events
among them, and no token or secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.live import cli, live_server, user_tokens

pytestmark = pytest.mark.e2e

PASSWORD = "json logs password"


def test_json_lines_for_requests_and_security_events(tmp_path: Path, database: str) -> None:
    cli("user", "add", "alice", "--password-stdin", database=database, stdin=PASSWORD + "\n")
    app = json.loads(
        cli(
            "client",
            "add",
            "--name",
            "Logged",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--public",
            "--json",
            database=database,
        ).stdout
    )
    with live_server(tmp_path, ["--log-format", "json"], database=database) as server:
        tokens = user_tokens(
            server.url,
            {**app, "client_secret": None},
            redirect_uri="http://127.0.0.1:9/cb",
            scope="read:account",
            username="alice",
            password=PASSWORD,
        )
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": app["client_id"]}
        assert httpx.post(server.url + "/oauth/token", data=form).status_code == 200
        assert httpx.post(server.url + "/oauth/token", data=form).status_code == 400  # reuse: a security event
        httpx.get(server.url + "/demo/callback?code=sek_ac_secret-looking&state=x")
        output = server.output()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line parses
    requests = [line for line in lines if line.get("event") == "request"]
    assert any(r["route"] == "/oauth/token" and r["status"] == 200 and r["method"] == "POST" for r in requests)
    assert all({"time", "level", "path", "status", "duration_ms"} <= set(r) for r in requests)
    assert any(line.get("event") == "refresh_token_reuse" for line in lines)
    for secret in (tokens["access_token"], tokens["refresh_token"], PASSWORD, "sek_ac_secret-looking"):
        assert secret not in output
