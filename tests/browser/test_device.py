"""`sekisho login --device` end to end: the real CLI against a real `sekisho serve --demo` (its demo app takes the
device grant, so no client id is needed), and real Chromium opening the verification URL the CLI printed, signing
in, checking the code and allowing; then the stored token posts a note through the demo API."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser.conftest import demo_server
from tests.live import SEKISHO, LiveServer, read_stderr_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    with demo_server(tmp_path_factory.mktemp("device-demo")) as running:
        yield running


def test_login_device_with_chromium_entering_the_code(
    browser: Browser, demo: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, password = demo
    env = {**os.environ, "SEKISHO_CONFIG_DIR": str(tmp_path / "config")}
    process = subprocess.Popen(
        [*SEKISHO, "login", server.url, "--device"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        printed = "".join(read_stderr_until(process, "?user_code="))
        assert "sekisho-demo" in printed  # no --client-id: the demo server's own app, said so
        user_code = re.findall(r"^\s+([B-Z]{4}-[B-Z]{4})$", printed, re.M)[0]
        assert f"  {server.url}/device\n" in printed  # verification_uri, then the code, then the complete URL
        complete = printed.strip().splitlines()[-1].strip()
        assert complete == f"{server.url}/device?user_code={user_code}"

        context = browser.new_context()
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(complete)
        page.fill("#username", "demo")  # not signed in yet: the login page first, then back to /device
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("main button[type=submit]")
        assert page.input_value("#user_code") == user_code  # prefilled, and waiting for the person to continue
        with page.expect_navigation():
            page.click("main button[type=submit]")
        assert user_code in page.locator("#device-code").inner_text()
        assert page.locator("#app-name").inner_text() == "sekisho demo app"
        with page.expect_navigation():
            page.click("button[name=decision][value=allow]")
        assert page.locator("#device-result").inner_text() == "Device connected"
        context.close()

        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "logged in as @demo" in out and "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    posted = subprocess.run(
        [*SEKISHO, "post", "hello from a device"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert posted.returncode == 0, posted.stderr
    note_id = posted.stdout.split()[1]
    shown = httpx.post(server.url + "/api/notes/show", json={"noteId": note_id})
    assert shown.status_code == 200 and shown.json()["text"] == "hello from a device"
