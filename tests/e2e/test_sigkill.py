"""`sekisho serve` killed with SIGKILL in the middle of a bounded load from a second process, then started again.

Every token the load process *received* still works after the restart, and no code or refresh token that was
used can be used again. The load (tests/load.py) sends client_credentials requests, rotates refresh-token chains
and exchanges codes, recording each answer as it arrives, so the record is what a client really holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live import cli, introspect, live_server, post_token, user_code, user_tokens
from tests.load import read_record

pytestmark = pytest.mark.e2e

PASSWORD = "sigkill password 1"
REDIRECT = "http://127.0.0.1:9/callback"
SCOPE = "read:account write:notes"
CHAINS = 4
CODES = 12


def add_client(database: str, *options: str) -> dict[str, str]:
    added: dict[str, str] = json.loads(cli("client", "add", *options, "--json", database=database).stdout)
    return added


def wait_for_answers(record: Path, enough: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if record.exists() and len(record.read_text().splitlines()) >= enough:
            return
        time.sleep(0.05)
    raise AssertionError(f"the load got fewer than {enough} answers in {timeout} s")


def test_sigkill_under_load_loses_no_token_and_reuses_no_code_or_refresh_token(tmp_path: Path, database: str) -> None:
    cli("user", "add", "alice", "--password-stdin", database=database, stdin=PASSWORD + "\n")
    machine = add_client(database, "--name", "Machine", "--grant-type", "client_credentials", "--scope", "read:account")
    app = add_client(database, "--name", "App", "--redirect-uri", REDIRECT, "--public")
    api = add_client(database, "--name", "API", "--resource-server")
    record = tmp_path / "record.jsonl"
    login = {"redirect_uri": REDIRECT, "scope": SCOPE, "username": "alice", "password": PASSWORD}

    with live_server(tmp_path, database=database) as first:
        chains = [
            user_tokens(first.url, {**app, "client_secret": None}, **login)["refresh_token"] for _ in range(CHAINS)
        ]
        codes = [{"form": user_code(first.url, app["client_id"], **login)} for _ in range(CODES)]
        plan = {
            "url": first.url,
            "client_id": machine["client_id"],
            "client_secret": machine["client_secret"],
            "client_credentials": {"grant_type": "client_credentials", "scope": "read:account"},
            "app_id": app["client_id"],
            "refresh_tokens": chains,
            "codes": codes,
            "seconds": 30,
            "requests": 20_000,
        }
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        load = subprocess.Popen([sys.executable, "-m", "tests.load", str(tmp_path / "plan.json"), str(record)])
        try:
            wait_for_answers(record, 300)
            first.process.kill()  # SIGKILL: no shutdown, no flush, mid-request
            first.process.wait(timeout=10)
        finally:
            load.wait(timeout=60)
    assert load.returncode == 0

    answers = read_record(record)
    received = [answer for answer in answers if answer["status"] == 200]
    assert {answer["status"] for answer in answers} <= {200, None}, "before the kill every request succeeded"
    assert any(answer["status"] is None for answer in answers), "the kill happened while requests were in flight"

    with live_server(tmp_path, database=database) as second:
        # 1. Every access token received still works (checked before any replay below could revoke a grant).
        latest_per_chain: dict[int, dict[str, Any]] = {}
        for answer in received:
            if answer["kind"] == "refresh":
                latest_per_chain[answer["chain"]] = answer
        holding = [a["body"]["access_token"] for a in received if a["kind"] in ("client_credentials", "code")]
        holding += [a["body"]["access_token"] for a in latest_per_chain.values()]
        resource_server = (api["client_id"], api["client_secret"])
        inactive = [t for t in holding if introspect(second.url, t, resource_server).get("active") is not True]
        assert inactive == [], f"{len(inactive)} of {len(holding)} received access tokens stopped working"
        assert len(received) >= 250 and len(holding) >= CHAINS

        # 2. The refresh token each chain holds: usable exactly once, unless the request in flight at the kill had
        #    already used it (then it is refused like any replay). Either way never twice.
        public = (app["client_id"], None)
        for number, answer in latest_per_chain.items():
            form = {"grant_type": "refresh_token", "refresh_token": answer["body"]["refresh_token"]}
            first_try = post_token(second.url, form, client=public)
            assert first_try.status_code in (200, 400), (number, first_try.text)
            again = post_token(second.url, form, client=public)
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

        # 3. No code or refresh token that was used can be used again.
        for answer in received:
            if answer["kind"] == "code":
                form = next(code["form"] for code in codes if code["form"]["code"] == answer["code"])
                replay = post_token(second.url, form, client=public)
                assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
            elif answer["kind"] == "refresh":
                form = {"grant_type": "refresh_token", "refresh_token": answer["used"]}
                replay = post_token(second.url, form, client=public)
                assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert "Traceback" not in second.output()
    print(
        f"sigkill: {len(answers)} answers recorded, {len(received)} tokens received, "
        f"{len(holding)} access tokens checked after the restart"
    )
