"""`sekisho login` with a pushed authorization request (RFC 9126), end to end: the real CLI against a real
`sekisho serve --demo --require-par`, and real Chromium opening the URL the CLI printed (only client_id and
request_uri), signing in first, then allowing on the consent page; the redirect back ends the CLI's login."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.browser.conftest import demo_server
from tests.live import SEKISHO, LiveServer, read_stderr_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


def test_login_pushes_then_chromium_signs_in_and_allows(browser: Browser, tmp_path: Path) -> None:
    with demo_server(tmp_path, ["--require-par"]) as (server, password):
        pushed_login(browser, server, password, tmp_path / "config")


def pushed_login(browser: Browser, server: LiveServer, password: str, config: Path) -> None:
    """`sekisho login SERVER --no-browser`, and Chromium doing what the person does with the URL it prints."""
    command = [*SEKISHO, "login", server.url, "--no-browser"]
    environment = {**os.environ, "SEKISHO_CONFIG_DIR": str(config)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment) as cli:
        try:
            printed = read_stderr_until(cli, "request_uri=")
            url = next(line.strip() for line in printed if "request_uri=" in line)
            assert set(dict(parse_qsl(urlsplit(url).query))) == {"client_id", "request_uri"}
            consent_in_chromium(browser, url, password)
            out, err = cli.communicate(timeout=30)
        except BaseException:
            cli.kill()
            raise
    assert cli.returncode == 0, err
    assert "logged in as @demo" in out and "Traceback" not in err


def consent_in_chromium(browser: Browser, url: str, password: str) -> None:
    """Open the pushed request's URL: sign in first (the detour keeps only the reference), then allow."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(url)
    page.fill("#username", "demo")
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "request_uri=" in page.url
    with page.expect_navigation():
        page.click("button[name=decision][value=allow]")
    context.close()
