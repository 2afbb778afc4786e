"""The consent flow as a person sees it: authorization URL → login → consent → back at the app (CONTRACT.md §2)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.browser.conftest import USERNAME, pkce_pair

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

    from tests.browser.conftest import Sekisho

pytestmark = pytest.mark.browser

SCOPE_WORDS = {
    "read:account": "Read your account information",
    "write:notes": "Post and delete notes as you",
}


def landed_query(page: Page, sekisho: Sekisho) -> dict[str, list[str]]:
    """Wait until the browser is on the client app's redirect URI; its query, checked against what the app got."""
    redirect_uri = sekisho.client_app.redirect_uri
    page.wait_for_url(lambda url: url.startswith(redirect_uri + "?"))
    assert page.locator("#callback").inner_text() == "The app got the answer."
    landed = urlsplit(page.url)
    query = parse_qs(landed.query, keep_blank_values=True)
    received = [parse_qs(hit.query, keep_blank_values=True) for hit in sekisho.client_app.callbacks()]
    assert query in received, f"the client app never got {page.url}"
    return query


def test_allow_lands_on_the_redirect_uri_with_a_code_that_works(page: Page, sekisho: Sekisho) -> None:
    client_id = sekisho.register("Browser Notes")
    verifier, challenge = pkce_pair()
    state = "allow-" + secrets.token_urlsafe(12)

    page.goto(sekisho.authorization_url(client_id, state, challenge))
    # Not signed in yet: the login page, with the authorization request kept in `next`.
    assert urlsplit(page.url).path == "/login"
    assert page.locator("input[name=username]").is_visible() and page.locator("input[name=password]").is_visible()
    sekisho.sign_in(page)

    # The consent page names the app and the host it goes back to, and says each scope in words.
    assert page.url.startswith(sekisho.url + "/oauth/authorize?")
    assert page.locator("#app-name").inner_text() == "Browser Notes"
    assert page.title().startswith("Allow Browser Notes?")
    assert page.locator("#client-host").inner_text() == urlsplit(sekisho.client_app.url).netloc
    scopes = page.locator("#scopes li[data-scope]")
    assert [scopes.nth(i).get_attribute("data-scope") for i in range(scopes.count())] == list(SCOPE_WORDS)
    for scope, words in SCOPE_WORDS.items():
        assert words in page.locator(f'#scopes li[data-scope="{scope}"]').inner_text()
    assert USERNAME in page.locator("main").inner_text()

    page.click("button[name=decision][value=allow]")
    query = landed_query(page, sekisho)
    assert set(query) == {"code", "state", "iss"}, query
    assert query["state"] == [state]
    assert query["iss"] == [sekisho.issuer] and sekisho.issuer == sekisho.url

    # The app exchanges the code, as a public client with its PKCE verifier, in a form body.
    exchanged = httpx.post(
        sekisho.url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": sekisho.client_app.redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
        },
        timeout=10,
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert tokens["access_token"].startswith("sek_at_")
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "read:account write:notes"


def test_deny_lands_on_the_redirect_uri_with_access_denied(page: Page, sekisho: Sekisho) -> None:
    client_id = sekisho.register("Browser Deny")
    _, challenge = pkce_pair()
    state = "deny-" + secrets.token_urlsafe(12)

    sekisho.open_consent(page, client_id, state, challenge)
    assert page.locator("#app-name").inner_text() == "Browser Deny"
    page.click("button[name=decision][value=deny]")

    query = landed_query(page, sekisho)
    assert "code" not in query, query
    assert query["error"] == ["access_denied"]
    assert query.get("error_description", [""])[0], query  # CONTRACT.md §2 Errors: denial carries a description
    assert query["state"] == [state]
    assert query["iss"] == [sekisho.issuer]


def test_app_name_is_shown_as_text_never_run(browser: Browser, sekisho: Sekisho) -> None:
    name = "<img src=x onerror=alert(1)>Evil"
    client_id = sekisho.register(name)
    _, challenge = pkce_pair()
    # Escaping must hold on its own: switch the page's CSP off so it cannot hide a missing escape.
    unguarded = browser.new_context(bypass_csp=True)
    unguarded.set_default_timeout(10_000)
    try:
        page = unguarded.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        sekisho.open_consent(page, client_id, "xss", challenge)

        assert page.locator("#app-name").inner_text() == name
        assert page.locator("#app-name img").count() == 0
        assert page.locator("main img").count() == 0
        assert page.title().startswith(f"Allow {name}?")
        page.wait_for_timeout(300)  # give a broken image's onerror time to fire
        assert dialogs == []
    finally:
        unguarded.close()
