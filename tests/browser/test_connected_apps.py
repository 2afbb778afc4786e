"""/settings/apps in real Chromium: the user sees the app they connected and revokes it, after a confirmation that
says what revoking does."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.browser.conftest import pkce_pair

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Sekisho

pytestmark = pytest.mark.browser


def test_revoking_a_connected_app_ends_its_tokens(page: Page, sekisho: Sekisho) -> None:
    client_id = sekisho.register("Revocable Bot " + secrets.token_hex(3))
    verifier, challenge = pkce_pair()
    sekisho.open_consent(page, client_id, "s", challenge)
    page.click("button[name=decision][value=allow]")
    page.wait_for_url(lambda url: url.startswith(sekisho.client_app.redirect_uri + "?"))
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    tokens = httpx.post(
        sekisho.url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": sekisho.client_app.redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    ).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.post(sekisho.url + "/api/i", headers=bearer).status_code == 200

    page.goto(sekisho.url + "/settings/apps")
    card = page.locator(f'.app[data-client-id="{client_id}"]')
    assert card.locator(".app-name").inner_text().startswith("Revocable Bot")
    assert "Read your account information" in card.inner_text()
    assert "Last active" in card.inner_text() and "never" not in card.inner_text()
    assert not card.locator("button.revoke").is_visible()  # one click never revokes: it asks first
    card.locator("details.confirm summary").click()
    assert "every token it holds stops working" in card.locator("details.confirm").inner_text()
    with page.expect_navigation():
        card.locator("button.revoke").click()
    assert urlsplit(page.url).path == "/settings/apps"
    assert page.locator(f'.app[data-client-id="{client_id}"]').count() == 0

    assert httpx.post(sekisho.url + "/api/i", headers=bearer).status_code == 401
    refreshed = httpx.post(
        sekisho.url + "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"
