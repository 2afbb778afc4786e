"""Every page of the site in real Chromium, light and dark, 1280, 390 and 360 px wide (issue 24): no serious or critical
axe-core violation, every button's text at least 4.5:1 against its background, nothing to scroll sideways on a
phone, a screenshot of each kept for a human look; and the consent decision made with the keyboard alone.

Screenshots go to $SEKISHO_TEST_ARTIFACTS/pages (default: test-results/pages in the checkout, which git ignores).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import text

from sekisho.client.loopback import _page as cli_page
from tests import sql
from tests.browser import axe
from tests.browser.conftest import CHROMIUM, pkce_pair
from tests.live import LiveServer, live_server, user_tokens
from tests.needs import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SEKISHO_TEST_ARTIFACTS", ROOT / "test-results")) / "pages"
SIZES = {  # a desktop, a phone, and the narrowest phones in use
    "1280": {"width": 1280, "height": 900},
    "390": {"width": 390, "height": 844},
    "360": {"width": 360, "height": 780},
}
SCHEMES = ("light", "dark")
LOOPBACK = "http://127.0.0.1:9/callback"

# For every button (and link styled as one) that is visible: its text colour against the first opaque background
# behind it, as WCAG 2.1 computes contrast.
BUTTON_CONTRAST = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const linear = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const shown = [...document.querySelectorAll("button, .button, summary")].filter((el) => el.offsetParent !== null);
  return shown.map((el) => {
    const [fg, bg] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    return {button: el.textContent.trim().replace(/\\s+/g, " "), ratio: Math.round(ratio * 100) / 100};
  });
}"""
AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
}"""


@dataclass
class Demo:
    server: LiveServer
    password: str
    session: str = "design-" + secrets.token_hex(8)
    registered: str = ""  # a client that registered itself (RFC 7591): its consent page says so

    @property
    def url(self) -> str:
        return self.server.url

    def authorization_url(self, client_id: str = "sekisho-demo", redirect_uri: str | None = None) -> str:
        _, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri or self.url + "/demo/callback",
            "scope": "read:account write:notes",
            "state": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        # RFC 8707 (issue 25): the consent page then says where the token is usable, a long URI among them
        resources = [("resource", self.url), ("resource", LONG_RESOURCE)]
        return self.url + "/oauth/authorize?" + urlencode([*params.items(), *resources])


LONG_RESOURCE = "https://notes-and-bookmarks-for-agents.example/mcp/v1/workspaces/personal-and-shared/endpoint"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`sekisho serve --demo` with two notes by `demo` (so /@demo, /settings/apps and the rest have content), and
    a client that registered itself."""
    flags = ["--demo", "--registration", "open", "--resource", LONG_RESOURCE]
    with live_server(tmp_path_factory.mktemp("design"), flags) as server:
        found = re.search(r"Password\s+(\S+)", server.output())
        assert found, server.output()
        client = {"client_id": "sekisho-demo", "client_secret": None}
        tokens = user_tokens(
            server.url,
            client,
            redirect_uri=server.url + "/demo/callback",
            scope="read:account write:notes",
            username="demo",
            password=found.group(1),
        )
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        for text in ("hello from the design test", "a second note, with a longer line of text to wrap " * 3):
            assert httpx.post(server.url + "/api/notes/create", headers=bearer, json={"text": text}).status_code == 200
        agent = {"client_name": "Notes Agent", "redirect_uris": [LOOPBACK], "token_endpoint_auth_method": "none"}
        agent["client_uri"] = "https://notes-agent.example/about"  # the consent page links it as its own word
        registered = httpx.post(server.url + "/oauth/register", json=agent).json()["client_id"]
        yield Demo(server, found.group(1), registered=registered)


@pytest.fixture(scope="module")
def axe_source() -> str:
    try:
        return axe.source()
    except axe.AxeUnavailable as error:
        unavailable(str(error))


def serving(html: str) -> Callable[[Route], None]:
    """A route handler that answers with `html`, as the CLI's loopback listener would."""

    def fulfill(route: Route) -> None:
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    return fulfill


def walk(page: Page, demo: Demo, look: Callable[[str], None]) -> None:
    """Every page, in the order a person meets them; `look(name)` on each."""
    page.goto(demo.url + "/")
    look("home")
    page.goto(demo.url + "/no/such/page")
    look("error-404")
    page.goto(demo.url + "/oauth/authorize?response_type=code&client_id=nobody")
    look("error-oauth")
    page.goto(demo.authorization_url())
    look("login-for-app")
    page.fill("#username", "demo")
    page.fill("#password", "not the password")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    look("login-failed")
    page.fill("#password", demo.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    look("consent")
    with page.expect_navigation():
        page.click("button[name=decision][value=allow]")
    look("demo-callback")
    page.goto(demo.url + "/")
    look("home-signed-in")
    page.goto(demo.url + "/settings/apps")
    look("apps")
    page.locator("details.confirm summary").first.click()
    look("apps-revoke-confirm")
    page.goto(demo.url + "/@demo")
    look("user-page")
    miauth = {"name": "Note Bot", "permission": "write:notes,read:account"}
    page.goto(f"{demo.url}/miauth/{demo.session}-{secrets.token_hex(4)}?{urlencode(miauth)}")
    look("miauth-consent")
    with page.expect_navigation():
        page.click("button[name=decision][value=allow]")
    look("miauth-done")
    page.goto(demo.authorization_url(demo.registered, LOOPBACK))
    look("consent-self-registered")
    walk_device(page, demo, look)
    # The CLI's pages, as its loopback listener serves them (no CSP of the server's; an inline style sheet).
    pages = {
        "signed-in": cli_page("Signed in", "You can close this tab and go back to the terminal."),
        "not-signed-in": cli_page("Not signed in", "The sign-in did not go through; the terminal says why.", ok=False),
    }
    for name, html in pages.items():
        loopback = f"http://127.0.0.1:9/callback?{name}"
        page.route(loopback, serving(html))
        page.goto(loopback)
        look(f"cli-{name}")


def walk_device(page: Page, demo: Demo, look: Callable[[str], None]) -> None:
    """The device flow's pages (RFC 8628), for a code the demo app asks for; each walk with a fresh entry count."""
    with sql.connect(demo.server.database) as connection:
        connection.execute(text("DELETE FROM login_throttles WHERE key LIKE 'device:%'"))
        connection.commit()
    started = httpx.post(
        demo.url + "/oauth/device_authorization", data={"client_id": "sekisho-demo", "scope": "read:account"}
    ).json()
    page.goto(started["verification_uri_complete"])
    look("device-entry")
    for code, name in (("BBBB-BBBB", "device-wrong-code"), (started["user_code"], "device-consent")):
        page.fill("#user_code", code)
        with page.expect_navigation():
            page.click("main form[action='/device'] button[type=submit]")
        look(name)
    with page.expect_navigation():
        page.click("button[name=decision][value=allow]")
    look("device-done")
    page.goto(started["verification_uri_complete"])
    with page.expect_navigation():
        page.click("main form[action='/device'] button[type=submit]")
    look("device-spent")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_is_accessible_and_fits(
    browser: Browser, demo: Demo, axe_source: str, scheme: str, size: str
) -> None:
    context = browser.new_context(viewport=SIZES[size], color_scheme=scheme)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    seen: list[str] = []

    def look(name: str) -> None:
        seen.append(name)
        page.wait_for_load_state()
        page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}-{size}.png"), full_page=True)
        page.evaluate(axe_source)
        violations: list[dict[str, Any]] = page.evaluate(AXE_RUN)
        problems.extend(
            f"{name}: axe {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        )
        for button in page.evaluate(BUTTON_CONTRAST):
            if button["ratio"] < 4.5:
                problems.append(f"{name}: button {button['button']!r} has contrast {button['ratio']}:1")
        scroll_width, inner_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if scroll_width > inner_width:
            problems.append(f"{name}: {scroll_width} px wide in a {inner_width} px window")

    try:
        page = context.new_page()
        walk(page, demo, look)
    finally:
        context.close()
    assert len(seen) == 21, seen
    assert problems == [], "\n".join(problems)


def test_the_consent_decision_takes_only_tab_and_enter(browser: Browser, demo: Demo) -> None:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(demo.authorization_url())
        tab_to(page, "#username")
        page.keyboard.type("demo")
        tab_to(page, "#password")
        page.keyboard.type(demo.password)
        tab_to(page, "main button[type=submit]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("#app-name").inner_text() == "sekisho demo app"
        tab_to(page, "button[name=decision][value=allow]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.startswith(demo.url + "/demo/callback?code=")
    finally:
        context.close()


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until `selector` has the focus (it may have it already: the login form's autofocus), at most 40
    times."""
    for _ in range(40):
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_chromium_is_the_systems(browser: Browser) -> None:
    """The browser tests never download a browser: Playwright drives Debian's."""
    assert Path(CHROMIUM).is_file() and browser.version
