"""HTML pages: security headers, CSRF on consent, cookies under https, no third-party resources, escaping."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from sekisho.server.web.app import create_app
from tests import sql
from tests.conftest import ISSUER, PASSWORD, REDIRECT_URI, Clock, World, csrf_of, hidden_fields

HTTPS_ISSUER = "https://auth.example"


def check_page_headers(response: Response) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'none'"]  # and nothing else is allowed from elsewhere
    for sources in directives.values():
        assert all(not source.startswith(("http:", "https:", "*")) for source in sources), policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


def count_codes(world: World) -> int:
    return sql.count(world.database, "authorization_codes")


def add_client(database: str, name: str, redirect_uri: str = REDIRECT_URI) -> str:
    async def add() -> str:
        store = await SqlStore.open(database, migrate_schema=False)
        try:
            client, _ = await register_client(
                store,
                name=name,
                redirect_uris=[redirect_uri],
                public=True,
                scope=None,
                grant_types=[],
                known_scopes=DEFAULT_SCOPES,
                now=1_700_000_000,
            )
            return client.client_id
        finally:
            await store.close()

    return asyncio.run(add())


# every HTML page carries the headers


def pages(world: World) -> Iterator[tuple[str, Callable[[], Response]]]:
    params = world.authorize_params(world.public.client_id)
    yield "home", lambda: world.http.get("/")
    yield "login", lambda: world.http.get("/login")
    yield "login refused", lambda: world.http.post("/login", data={"csrf_token": "x"})
    yield "error page", lambda: world.http.get("/oauth/authorize", params={"client_id": "nobody"})
    yield "duplicate page", lambda: world.http.get("/oauth/authorize?state=a&state=b")

    def wrong_password() -> Response:
        token = csrf_of(world.http.get("/login").text)
        data = {"username": "alice", "password": "wrong password", "csrf_token": token}
        return world.http.post("/login", data=data)

    yield "wrong password", wrong_password

    def consent() -> Response:
        world.login()
        return world.http.get("/oauth/authorize", params=params)

    yield "consent", consent
    yield "home signed in", lambda: world.http.get("/")


def test_every_html_page_carries_the_security_headers(world: World) -> None:
    seen = []
    for name, fetch in pages(world):
        response = fetch()
        assert response.status_code in (200, 400, 401), (name, response.status_code)
        check_page_headers(response)
        seen.append(name)
    assert "consent" in seen


def test_error_pages_for_unknown_paths_are_not_html(world: World) -> None:
    response = world.http.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


# third-party resources


class Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.forms: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data") and value is not None:
                self.urls.append(value)
            if name == "style" and value and "url(" in value:
                self.urls.append(value)
        if tag == "form":
            self.forms.append(dict(attrs).get("action") or "")


def resources_of(html: str) -> Resources:
    parser = Resources()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("which", ["login", "consent"])
def test_login_and_consent_load_nothing_from_elsewhere(world: World, which: str) -> None:
    if which == "login":
        html = world.http.get("/login").text
    else:
        world.login()
        html = world.http.get("/oauth/authorize", params=world.authorize_params(world.public.client_id)).text
    found = resources_of(html)
    assert found.urls
    for url in found.urls:
        parts = urlsplit(url)
        assert not parts.netloc or url.startswith(ISSUER + "/"), url
        assert parts.scheme in ("", "http", "https") and not url.startswith("//"), url
    assert all(action.startswith("/") and not action.startswith("//") for action in found.forms)
    assert "<script" not in html.lower() and "<iframe" not in html.lower()
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html)


def test_the_stylesheet_is_served_by_the_server_itself(world: World) -> None:
    response = world.http.get("/static/sekisho.css")
    assert response.status_code == 200 and "text/css" in response.headers["content-type"]
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", response.text)


# consent page


def test_consent_page_follows_the_contract(world: World) -> None:
    world.login()
    params = world.authorize_params(world.confidential.client_id)
    page = world.http.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    html = page.text
    assert '<span id="app-name">Confidential App</span>' in html
    assert '<span class="host" id="client-host">app.example</span>' in html
    assert "Read your account information" in html and "Post and delete notes as you" in html
    forms = re.findall(r'<form method="post" action="/oauth/authorize">(.*?)</form>', html, re.S)
    assert len(forms) == 1
    assert re.search(r'<button [^>]*name="decision" value="allow"', forms[0])
    assert re.search(r'<button [^>]*name="decision" value="deny"', forms[0])
    assert 'name="csrf_token"' in forms[0]
    assert "Signed in as <strong>alice</strong>" in html


@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_consent_without_a_valid_csrf_token_is_refused(world: World, decision: str) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    fields = hidden_fields(world.http.get("/oauth/authorize", params=params).text)
    real = fields.pop("csrf_token")
    for token in (None, "", "0" * 64, "forged", real.upper(), real[:-1]):
        form = (
            {**fields, "decision": decision} if token is None else {**fields, "decision": decision, "csrf_token": token}
        )
        response = world.http.post("/oauth/authorize", data=form, follow_redirects=False)
        assert response.status_code == 400, token
        assert "location" not in response.headers
        assert '<strong id="error-code">invalid_request</strong>' in response.text
        check_page_headers(response)
    assert count_codes(world) == 0


def test_consent_csrf_token_is_tied_to_the_browser(world: World) -> None:
    """A token lifted from one browser's page does not work in another's (a cross-site form post)."""
    world.login()
    params = world.authorize_params(world.public.client_id)
    fields = hidden_fields(world.http.get("/oauth/authorize", params=params).text)
    world.http.cookies.delete("sekisho_csrf")
    world.http.get("/login")  # the browser gets a new CSRF cookie
    response = world.http.post("/oauth/authorize", data={**fields, "decision": "allow"}, follow_redirects=False)
    assert response.status_code == 400 and count_codes(world) == 0


def test_consent_csrf_token_survives_a_login(world: World) -> None:
    """The consent page shown after login carries a token for the new session: no surprise failure."""
    world.login()
    params = world.authorize_params(world.public.client_id)
    assert "code" in world.consent(params)


def consent_fields(world: World) -> dict[str, str]:
    params = world.authorize_params(world.public.client_id)
    page = world.http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    return hidden_fields(page.text)


def refused_decision(world: World, fields: dict[str, str]) -> None:
    """The decision is a 400 `invalid_request` page, and no code exists."""
    response = world.http.post("/oauth/authorize", data={**fields, "decision": "allow"}, follow_redirects=False)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert '<strong id="error-code">invalid_request</strong>' in response.text
    assert count_codes(world) == 0


def test_a_csrf_token_from_before_login_is_refused_after_it(world: World) -> None:
    """Issue 21 finding 5: login gives a new CSRF cookie; a token read before it (say by a planted page) is dead."""
    before = csrf_of(world.http.get("/login").text)
    cookie_before = world.http.cookies["sekisho_csrf"]
    world.login()
    assert world.http.cookies["sekisho_csrf"] != cookie_before
    refused_decision(world, {**consent_fields(world), "csrf_token": before})
    # The old cookie put back with its token does not help: the token is bound to the (then absent) session too.
    session = world.http.cookies["sekisho_session"]
    world.http.cookies.clear()
    world.http.cookies.set("sekisho_session", session)
    world.http.cookies.set("sekisho_csrf", cookie_before)
    refused_decision(world, {**consent_fields(world), "csrf_token": before})


def test_a_csrf_token_from_before_logout_is_refused_after_it(world: World) -> None:
    """Issue 21 finding 5: logout gives a new CSRF cookie; a token of the ended session works nowhere."""
    world.login()
    fields = consent_fields(world)
    cookie_before = world.http.cookies["sekisho_csrf"]
    out = world.http.post("/logout", data={"csrf_token": fields["csrf_token"]}, follow_redirects=False)
    assert out.status_code == 303
    assert world.http.cookies["sekisho_csrf"] != cookie_before
    # Signed out, the old token cannot sign someone in (login CSRF) ...
    login = {"username": "bob", "password": PASSWORD, "csrf_token": fields["csrf_token"], "next": "/"}
    assert world.http.post("/login", data=login, follow_redirects=False).status_code == 400
    # ... and after signing in again it cannot decide.
    world.login()
    refused_decision(world, fields)


def test_a_csrf_token_is_bound_to_the_session_not_only_the_cookie(world: World) -> None:
    """Issue 21 finding 5: a CSRF cookie planted in alice's browser (a sibling host may set one) with its token,
    both taken from the attacker's own signed-in browser, does not let the attacker decide for alice."""
    world.login("bob")
    bobs_fields = consent_fields(world)
    bobs_cookie = world.http.cookies["sekisho_csrf"]
    world.http.cookies.clear()
    world.login()
    alices_session = world.http.cookies["sekisho_session"]
    world.http.cookies.clear()
    world.http.cookies.set("sekisho_session", alices_session)
    world.http.cookies.set("sekisho_csrf", bobs_cookie)  # planted
    refused_decision(world, bobs_fields)
    # alice's own page, with the planted cookie, still works: the page's token is made for the cookie she sends.
    assert (
        world.http.post(
            "/oauth/authorize", data={**consent_fields(world), "decision": "allow"}, follow_redirects=False
        ).status_code
        == 303
    )


def test_login_and_logout_answers_set_a_new_csrf_cookie(world: World) -> None:
    """Issue 21 finding 5: both answers carry a fresh CSRF cookie, whatever the browser had."""
    token = csrf_of(world.http.get("/login").text)
    cookies = set()
    for _ in range(2):
        data = {"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"}
        response = world.http.post("/login", data=data, follow_redirects=False)
        assert response.status_code == 303, response.text
        assert set(cookie_headers(response)) == {"sekisho_session", "sekisho_csrf"}
        cookies.add(world.http.cookies["sekisho_csrf"])
        token = csrf_of(world.http.get("/").text)
        response = world.http.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303, response.text
        assert set(cookie_headers(response)) == {"sekisho_session", "sekisho_csrf"}
        cookies.add(world.http.cookies["sekisho_csrf"])
        token = csrf_of(world.http.get("/login").text)
    assert len(cookies) == 4


# escaping


XSS_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_client_name_is_escaped_on_the_consent_page(world: World) -> None:
    client_id = add_client(world.database, XSS_NAME)
    world.login()
    page = world.http.get("/oauth/authorize", params=world.authorize_params(client_id))
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<title>Allow &lt;script&gt;" in page.text


def test_request_values_are_escaped_on_the_consent_page(world: World) -> None:
    world.login()
    state = '"><script>alert(1)</script>'
    page = world.http.get("/oauth/authorize", params=world.authorize_params(world.public.client_id, state=state))
    assert "<script>" not in page.text
    assert hidden_fields(page.text)["state"] == state


def test_login_page_escapes_what_it_echoes(world: World) -> None:
    token = csrf_of(world.http.get("/login").text)
    name = '"><script>alert(1)</script>'
    response = world.http.post("/login", data={"username": name, "password": "x", "csrf_token": token, "next": "/"})
    assert response.status_code == 401
    assert "<script>" not in response.text


def test_error_page_escapes_the_description(world: World) -> None:
    world.login()  # MiAuth's refused callback is named in the description (unknown parameters are ignored, not named)
    response = world.http.get("/miauth/0123456789abcdef?callback=<script>&permission=read:account")
    assert response.status_code == 400
    assert "<script>" not in response.text and "&lt;script&gt;" in response.text


# https issuer: Secure cookies with the __Host- prefix


@pytest.fixture
def https_app(world: World) -> Iterator[TestClient]:
    settings = Settings(issuer=HTTPS_ISSUER, database=world.database)
    app = create_app(settings, clock=Clock())
    with TestClient(app, base_url=HTTPS_ISSUER) as http:
        yield http


def cookie_headers(response: Response) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = [part.strip().lower() for part in rest.split(";")[1:]]
    return found


def test_https_cookies_are_secure_with_the_host_prefix(https_app: TestClient) -> None:
    page = https_app.get("/login")
    check_page_headers(page)
    csrf = cookie_headers(page)
    assert set(csrf) == {"__Host-sekisho_csrf"}
    token = csrf_of(page.text)
    response = https_app.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    session = cookie_headers(response)
    # Issue 21 finding 5: login also gives a new CSRF cookie.
    assert set(session) == {"__Host-sekisho_session", "__Host-sekisho_csrf"}
    for attributes in (*csrf.values(), *session.values()):
        assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes
        assert "path=/" in attributes
        assert not any(attribute.startswith("domain=") for attribute in attributes)  # __Host- forbids Domain


def test_https_consent_flow_uses_the_prefixed_cookies(https_app: TestClient, world: World) -> None:
    page = https_app.get("/login")
    https_app.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    params = world.authorize_params(world.public.client_id)
    consent = https_app.get("/oauth/authorize", params=params, follow_redirects=False)
    assert consent.status_code == 200
    response = https_app.post(
        "/oauth/authorize", data={**hidden_fields(consent.text), "decision": "allow"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert f"iss={HTTPS_ISSUER.replace(':', '%3A').replace('/', '%2F')}" in response.headers["location"]


def test_unprefixed_cookies_are_ignored_under_https(https_app: TestClient) -> None:
    """A cookie set without Secure (say by a man in the middle on http) cannot stand in for the real one."""
    token = csrf_of(https_app.get("/login").text)
    real = https_app.cookies["__Host-sekisho_csrf"]
    https_app.cookies.clear()
    https_app.cookies.set("sekisho_csrf", real)
    response = https_app.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 400
