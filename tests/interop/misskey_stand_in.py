"""What tests/interop/test_misskey_*.py share: a real `sekisho serve --demo-api` with a user, and the person at the
browser who allows a MiAuth session (sign in, consent, Allow) over real HTTP, as Misskey's own page would be used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.live import LiveServer, consent_over_http, form_field, live_server, sign_in

USERNAME, PASSWORD = "alice", "misskey interop password"
CALLBACK = "http://127.0.0.1:9/callback"  # the bot's own page; nothing listens there and nothing follows it


@contextmanager
def stand_in(tmp: Path) -> Iterator[LiveServer]:
    """`sekisho serve --demo-api` on SQLite with the user alice."""
    with live_server(tmp, user=(USERNAME, PASSWORD)) as server:
        yield server


def allow_miauth(server: LiveServer, url: str) -> str:
    """Open the MiAuth URL an SDK generated, sign in as alice and press Allow; returns the callback's Location."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == server.url, url
    assert parts.path.startswith("/miauth/"), url
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        _, location = consent_over_http(
            browser, dict(parse_qsl(parts.query)), username=USERNAME, password=PASSWORD, path=parts.path
        )
    return location


def miauth_token(server: LiveServer, session: str, permission: str) -> str:
    """A MiAuth token for alice, got the way any MiAuth app gets one (for SDKs without a MiAuth helper)."""
    query = f"name=interop&callback={CALLBACK}&permission={permission}"
    allow_miauth(server, f"{server.url}/miauth/{session}?{query}")
    answer = httpx.post(f"{server.url}/api/miauth/{session}/check", json={}, timeout=10).json()
    assert answer["ok"] is True, answer
    return str(answer["token"])


def revoke_every_app(server: LiveServer) -> None:
    """What alice does on sekisho's /settings/apps page: sign in, then Revoke on every connected app's card."""
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = browser.get(sign_in(browser, "/login?next=/settings/apps", username=USERNAME, password=PASSWORD))
        client_ids = re.findall(r'name="client_id" value="([^"]*)"', page.text)
        assert client_ids, page.text
        for client_id in client_ids:
            data = {"client_id": client_id, "csrf_token": form_field(page.text, "csrf_token")}
            assert browser.post("/settings/apps/revoke", data=data).status_code == 303
