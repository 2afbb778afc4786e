"""Issue 21 finding 4 in real Chromium: a URL client's error before the decision stays on sekisho's page.

The browser must not be sent on to the client page's redirect URI by itself (no redirect, no refresh, no script);
only the person's click on the plain link goes back, with `error`, `state` and `iss`.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.browser.conftest import SCOPE, pkce_pair
from tests.browser.test_url_client import AppServer, app_server, client_page, private_sekisho
from tests.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

__all__ = ["app_server", "private_sekisho"]  # the fixtures, shared with test_url_client.py


def test_a_plain_pkce_request_stays_on_the_error_page_until_the_person_clicks(
    page: Page, private_sekisho: LiveServer, app_server: AppServer
) -> None:
    """Issue 21 finding 4: `code_challenge_method=plain` from a URL client no longer bounces to its redirect URI."""
    app_server.page = client_page("Note Bot")
    _, challenge = pkce_pair()
    state = "phish-" + secrets.token_urlsafe(8)
    params = {
        "response_type": "code",
        "client_id": app_server.client_id,
        "redirect_uri": app_server.redirect_uri,
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "plain",
    }
    response = page.goto(private_sekisho.url + "/oauth/authorize?" + urlencode(params))
    assert response is not None and response.status == 400
    page.wait_for_timeout(500)  # room for any automatic navigation to happen; none may
    assert page.url.startswith(private_sekisho.url + "/oauth/authorize?"), page.url
    assert app_server.requests("/callback") == []
    assert page.locator("#error-code").inner_text() == "invalid_request"
    assert page.locator("#app-host").inner_text() == app_server.host
    with page.expect_navigation():
        page.click("#back-link")
    back = urlsplit(page.url)
    assert f"{back.scheme}://{back.netloc}{back.path}" == app_server.redirect_uri
    query = parse_qs(back.query)
    assert query["error"] == ["invalid_request"] and query["state"] == [state]
    assert query["iss"] == [private_sekisho.url]
    assert len(app_server.requests("/callback")) == 1
