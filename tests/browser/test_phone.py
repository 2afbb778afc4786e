"""The login and consent pages on a phone-sized screen: nothing to scroll sideways, the buttons on screen."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import pkce_pair

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

    from tests.browser.conftest import Sekisho

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844  # an iPhone 12-14 in CSS pixels


def assert_fits(page: Page, what: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    scroll_width, inner_width = widths
    assert inner_width == WIDTH, widths
    assert scroll_width <= inner_width, f"the {what} page scrolls sideways: {scroll_width} px wide in {inner_width} px"


def assert_on_screen(button: Locator) -> None:
    assert button.is_visible()
    box = button.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    assert 0 <= box["x"] and box["x"] + box["width"] <= WIDTH, box


def test_login_and_consent_fit_a_phone(browser: Browser, sekisho: Sekisho, tmp_path: Path) -> None:
    client_id = sekisho.register("Notes on the Go for Phones")
    _, challenge = pkce_pair()
    phone = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone.set_default_timeout(10_000)
    try:
        page = phone.new_page()
        page.goto(sekisho.authorization_url(client_id, "phone-" + secrets.token_urlsafe(32), challenge))
        assert page.url.startswith(sekisho.url + "/login?")
        assert_fits(page, "login")
        assert_on_screen(page.locator("input[name=username]"))
        assert_on_screen(page.locator("button[type=submit]"))
        login_shot = tmp_path / "login-390x844.png"
        page.screenshot(path=str(login_shot), full_page=True)

        sekisho.sign_in(page)
        assert page.locator("#app-name").inner_text() == "Notes on the Go for Phones"
        assert_fits(page, "consent")
        allow = page.locator("button[name=decision][value=allow]")
        assert_on_screen(allow)
        assert_on_screen(page.locator("button[name=decision][value=deny]"))
        consent_shot = tmp_path / "consent-390x844.png"
        page.screenshot(path=str(consent_shot), full_page=True)
        assert consent_shot.stat().st_size > 0
        print(f"\nphone screenshots for a human look:\n  {consent_shot}\n  {login_shot}")
    finally:
        phone.close()
