"""node's `oidc-provider` (npm) on 127.0.0.1, for interoperability tests of `sekisho.client`.

`node_deps` installs tests/oidc_provider's npm packages when needed (tests/node.py). `oidc_provider` starts its
provider.mjs in the `interop` profile, mounted under /oidc (so discovery has to fall back to OpenID Connect's
`{issuer}/.well-known/openid-configuration`), with one public and one confidential client, and stops it afterwards.
`sign_in` walks oidc-provider's own login and consent pages (devInteractions) over real HTTP, as a browser would.

No npm or a failed install skips these tests on a developer machine and fails them in CI (CI=true), like the
browser tests.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests import node
from tests.live import free_port, stop
from tests.needs import unavailable

START_TIMEOUT = 20.0


MOUNT_PATH = "/oidc"


@pytest.fixture(scope="session")
def node_deps() -> Path:
    """The Node 22 binary from tests/oidc_provider/node_modules, installing the npm packages if needed."""
    try:
        return node.install()
    except node.NodeUnavailable as missing:
        unavailable(str(missing))


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str

    def metadata(self) -> dict[str, object]:
        """The client as oidc-provider's static `clients` configuration wants it."""
        common: dict[str, object] = {
            "client_id": self.client_id,
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }
        if self.client_secret is None:
            return {**common, "token_endpoint_auth_method": "none"}
        return {**common, "client_secret": self.client_secret, "token_endpoint_auth_method": "client_secret_basic"}


@dataclass
class OidcProvider:
    issuer: str
    public: RegisteredClient
    confidential: RegisteredClient
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # the launcher also stops when its stdin closes
    if process.poll() is None:
        stop(process)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture(scope="module")
def oidc_provider(node_deps: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """oidc-provider on a free loopback port, issuer http://127.0.0.1:PORT/oidc.

    The redirect URI is a loopback callback nobody listens on: tests read the code from the Location header of the
    last redirect instead of following it. The confidential client's id and secret carry characters that HTTP Basic
    client authentication must form-urlencode first (RFC 6749 §2.3.1), and oidc-provider decodes them that way.
    """
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    public = RegisteredClient("interop-public", None, redirect_uri)
    confidential = RegisteredClient("interop:confidential", f"s3cret +/:%&={secrets.token_urlsafe(16)}", redirect_uri)
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    clients = json.dumps([public.metadata(), confidential.metadata()])
    process = node.start("interop", env={"OIDC_CLIENTS": clients, "OIDC_PATH": MOUNT_PATH, "NODE_ENV": "test"}, log=log)
    try:
        issuer = node.read_ready(process, log, START_TIMEOUT)
        yield OidcProvider(issuer, public, confidential, process, log)
    finally:
        _stop(process)


# A browser, as far as oidc-provider's devInteractions pages need one: cookies, redirects, HTML forms.


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)  # names of the visible inputs, to fill in


class _PageParser(HTMLParser):
    """The forms of a page, and its links by their text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a":
            self._href = values.get("href")
        elif tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif tag == "input" and self.forms and values.get("name"):
            form = self.forms[-1]
            if values.get("type") == "hidden":
                form.fields[values["name"]] = values.get("value", "")
            else:
                form.inputs.append(values["name"])


@dataclass
class SignIn:
    callback: str  # the Location of the redirect to the client's redirect URI
    pages: list[str]  # which pages were shown on the way ("login", "consent")


async def sign_in(
    browser: httpx.AsyncClient, url: str, *, redirect_uri: str, login: str, cancel_at: str | None = None
) -> SignIn:
    """Open the authorization URL and go through oidc-provider's login and consent pages until it redirects to
    `redirect_uri`; that redirect is not followed. `browser` keeps cookies and must not follow redirects.

    `cancel_at="consent"` (or "login") follows the page's "[ Cancel ]" link there instead of submitting its form.
    """
    pages: list[str] = []
    response = await browser.get(url)
    for _ in range(12):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri + "?") or location.startswith(redirect_uri + "#"):
                return SignIn(location, pages)
            response = await browser.get(location)
            continue
        assert response.status_code == 200, f"{response.status_code} from {response.url}: {response.text[:500]}"
        parser = _PageParser()
        parser.feed(response.text)
        assert len(parser.forms) == 1, f"expected one form on {response.url}: {response.text[:500]}"
        form = parser.forms[0]
        prompt = form.fields.get("prompt", "")
        pages.append(prompt)
        if prompt == cancel_at:
            assert "[ Cancel ]" in parser.links, f"no cancel link on {response.url}: {parser.links}"
            response = await browser.get(urljoin(str(response.url), parser.links["[ Cancel ]"]))
            continue
        data = dict(form.fields)
        if prompt == "login":
            assert set(form.inputs) >= {"login", "password"}, form
            data.update(login=login, password="any password will do")
        else:
            assert prompt == "consent", f"unexpected page {response.url}: {form}"
        assert form.method == "post", form
        response = await browser.post(urljoin(str(response.url), form.action), data=data)
    raise AssertionError(f"no redirect to {redirect_uri} after 12 steps; pages: {pages}")
