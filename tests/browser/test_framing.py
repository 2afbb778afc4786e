"""Another site cannot put the login or consent page in a frame (clickjacking): SECURITY.md, "Authorization
endpoint and pages" — `frame-ancestors 'none'` and `X-Frame-Options: DENY` on every HTML page."""

from __future__ import annotations

import html
import secrets
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import pkce_pair

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Page, Response

    from tests.browser.conftest import ClientApp, Sekisho

pytestmark = pytest.mark.browser

CONTROL = '<!doctype html><title>Control</title><p id="control">An ordinary page renders in a frame.</p>'


def framing_page(app: ClientApp, name: str, target: str) -> str:
    """Serve, from the client app's origin, a page framing `target` next to a harmless control frame."""
    app.pages["/control"] = CONTROL
    app.pages[f"/{name}"] = (
        f"<!doctype html><title>Evil {name}</title><h1>Click the button for a prize</h1>"
        f'<iframe id="target" src="{html.escape(target)}" width="390" height="700"></iframe>'
        '<iframe id="control" src="/control" width="390" height="200"></iframe>'
    )
    return f"{app.url}/{name}"


def frame_of(page: Page, selector: str) -> Frame:
    handle = page.locator(selector).element_handle()
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    return frame


def open_framed(page: Page, sekisho: Sekisho, name: str, target: str) -> tuple[Frame, list[Response]]:
    """Load the framing page; the frame of `target`, and sekisho's answers to the framed request."""
    answers: list[Response] = []
    page.on("response", lambda response: answers.append(response) if response.url == target else None)
    page.goto(framing_page(sekisho.client_app, name, target), wait_until="load")
    control = frame_of(page, "#control")
    control.locator("#control").wait_for()  # frames do render here: the control frame shows its page
    assert answers, f"the browser never got an answer for {target}"
    return frame_of(page, "#target"), answers


def assert_refused(frame: Frame, answers: list[Response]) -> None:
    # sekisho did answer, and said no framing ...
    headers = answers[-1].all_headers()
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), headers
    assert headers.get("x-frame-options", "").upper() == "DENY", headers
    # ... and Chromium kept the page out of the frame: an error document, no form, no buttons.
    assert not frame.url.startswith(("http://", "https://")), frame.url
    assert frame.locator("form").count() == 0
    assert frame.locator("input[name=password]").count() == 0
    assert frame.locator("button").count() == 0
    assert frame.locator("#app-name").count() == 0


def test_login_page_is_not_rendered_in_a_frame(page: Page, sekisho: Sekisho) -> None:
    target = sekisho.url + "/login"
    frame, answers = open_framed(page, sekisho, "frame-login", target)
    assert answers[-1].status == 200
    assert_refused(frame, answers)


def test_consent_page_is_not_rendered_in_a_frame(page: Page, sekisho: Sekisho) -> None:
    client_id = sekisho.register("Framed App")
    _, challenge = pkce_pair()
    # Signed in, so the framed authorization URL would show the consent page straight away.
    sekisho.open_consent(page, client_id, "first", challenge)
    target = sekisho.authorization_url(client_id, "framed-" + secrets.token_urlsafe(8), challenge)
    frame, answers = open_framed(page, sekisho, "frame-consent", target)
    assert answers[-1].status == 200  # the consent page itself, not a redirect to /login
    assert_refused(frame, answers)
