"""Dynamic client registration (RFC 7591) at POST /oauth/register: the policies (off, open, token), the metadata
rules (those of `sekisho client add`), and a registered client going through the code flow, refresh and revocation."""

from __future__ import annotations

import asyncio
import base64
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sekisho.protocol.metadata import DEVICE_CODE_GRANT
from sekisho.server.registration import add_initial_token
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests.certs import loopback_ca
from tests.client_pages import PNG, SVG, ClientPages, Reply
from tests.conftest import ISSUER, World, make_world
from tests.live import cli
from tests.server.test_device import enter
from tests.server.test_url_clients import LOOPBACK_ONLY, logo, span

LOOPBACK = "http://127.0.0.1/callback"
PUBLIC = {"client_name": "Notes Agent", "redirect_uris": [LOOPBACK], "token_endpoint_auth_method": "none"}


def settings(database: str, policy: str, **extra: Any) -> Settings:
    return Settings(issuer=ISSUER, database=database, registration=policy, **extra)  # type: ignore[arg-type]


@pytest.fixture
def open_world(database: str) -> Iterator[World]:
    with make_world(database, settings(database, "open")) as running:
        yield running


def register(world: World, metadata: object, **headers: str) -> Any:
    return world.http.post("/oauth/register", json=metadata, headers=headers)


def initial_token(world: World, *, expires_in: int | None = 3600, uses: int | None = 1) -> str:
    async def add() -> str:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            return await add_initial_token(store, int(world.clock()), expires_in=expires_in, uses=uses)
        finally:
            await store.close()

    return asyncio.run(add())


# ---------------------------------------------------------------- policies


def test_off_is_the_default_the_path_is_not_served_nor_advertised(world: World) -> None:
    assert "registration_endpoint" not in world.http.get("/.well-known/oauth-authorization-server").json()
    assert register(world, PUBLIC).status_code == 404
    assert world.http.options("/oauth/register").status_code in (404, 405)


def test_open_registers_a_public_client_advertised_in_metadata(open_world: World) -> None:
    metadata = open_world.http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["registration_endpoint"] == f"{ISSUER}/oauth/register"
    response = register(open_world, PUBLIC)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"] and "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["client_id_issued_at"] == int(open_world.clock())
    assert body["client_name"] == "Notes Agent"
    assert body["redirect_uris"] == [LOOPBACK]
    assert body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]
    assert "scope" not in body


def test_a_confidential_client_gets_a_secret_shown_once(open_world: World) -> None:
    metadata = {**PUBLIC, "token_endpoint_auth_method": "client_secret_basic", "scope": "read:account nope"}
    body = register(open_world, metadata).json()
    assert body["client_secret"].startswith("sek_cs_") and body["client_secret_expires_at"] == 0
    assert body["scope"] == "read:account"  # unknown scopes are dropped, as at the authorization endpoint


def test_a_registered_client_completes_the_code_flow_refresh_and_revocation(open_world: World) -> None:
    metadata = {**PUBLIC, "grant_types": ["authorization_code", "refresh_token"]}
    client_id = register(open_world, metadata).json()["client_id"]
    open_world.login()
    params = open_world.authorize_params(client_id, redirect_uri="http://127.0.0.1:53111/callback")
    page = open_world.http.get("/oauth/authorize", params=params)
    assert page.status_code == 200 and "Notes Agent" in page.text  # the consent page names the app
    assert 'id="self-registered"' in page.text  # and says that nobody vetted that name
    operators = open_world.http.get("/oauth/authorize", params=open_world.authorize_params(open_world.public.client_id))
    assert operators.status_code == 200 and 'id="self-registered"' not in operators.text
    query = open_world.consent(params)
    tokens = open_world.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "code_verifier": open_world.verifiers[params["code_challenge"]],
            "redirect_uri": params["redirect_uri"],
            "client_id": client_id,
        },
    ).json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    refreshed = open_world.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
    ).json()
    assert refreshed["access_token"]
    revoked = open_world.http.post("/oauth/revoke", data={"token": refreshed["refresh_token"], "client_id": client_id})
    assert revoked.status_code == 200
    again = open_world.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"], "client_id": client_id},
    )
    assert again.json()["error"] == "invalid_grant"


# ---------------------------------------------------------------- metadata, checked as strictly as `client add`

BAD_REDIRECTS = [
    ("missing", {"redirect_uris": None}),
    ("empty", {"redirect_uris": []}),
    ("not a list", {"redirect_uris": LOOPBACK}),
    ("not strings", {"redirect_uris": [42]}),
    ("relative", {"redirect_uris": ["/callback"]}),
    ("fragment", {"redirect_uris": ["https://app.example/cb#frag"]}),
    ("userinfo", {"redirect_uris": ["https://good.example@evil.example/cb"]}),
    ("backslash in host", {"redirect_uris": ["https://evil.example\\@good.example/cb"]}),
    ("escape in host", {"redirect_uris": ["https://evil%2eexample/cb"]}),
    ("plain http", {"redirect_uris": ["http://app.example/cb"]}),
    ("javascript", {"redirect_uris": ["javascript:alert(1)"]}),
    ("data", {"redirect_uris": ["data:text/html,hi"]}),
    ("port zero", {"redirect_uris": ["http://127.0.0.1:0/cb"]}),
    ("leading zero port", {"redirect_uris": ["http://127.0.0.1:080/cb"]}),
    ("space", {"redirect_uris": ["https://app.example/c b"]}),
    ("too long", {"redirect_uris": ["https://app.example/" + "a" * 2100]}),
    ("too many", {"redirect_uris": [f"https://app.example/{n}" for n in range(21)]}),
    ("not a URI", {"redirect_uris": ["http://[oops/cb"]}),
]


@pytest.mark.parametrize(("case", "change"), BAD_REDIRECTS, ids=[case for case, _ in BAD_REDIRECTS])
def test_invalid_redirect_uris_are_refused(open_world: World, case: str, change: dict[str, object]) -> None:
    metadata = {key: value for key, value in {**PUBLIC, **change}.items() if value is not None}
    response = register(open_world, metadata)
    assert response.status_code == 400, (case, response.text)
    assert response.json()["error"] == "invalid_redirect_uri", case
    assert response.headers["cache-control"] == "no-store"


BAD_METADATA = [
    ("auth method private_key_jwt", {"token_endpoint_auth_method": "private_key_jwt"}),
    ("auth method not a string", {"token_endpoint_auth_method": ["none"]}),
    ("auth method empty", {"token_endpoint_auth_method": ""}),
    ("password grant", {"grant_types": ["password"]}),
    ("implicit grant", {"grant_types": ["implicit"]}),
    (
        "client_credentials",
        {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"},
    ),
    ("unknown grant", {"grant_types": ["authorization_code", "urn:example:magic"]}),
    ("grant types not a list", {"grant_types": "authorization_code"}),
    ("grant types with an empty string", {"grant_types": [""]}),
    ("response type token", {"response_types": ["token"]}),
    ("response type code id_token", {"response_types": ["code id_token"]}),
    ("code without its grant", {"grant_types": ["refresh_token"], "response_types": ["code"]}),
    ("grant without code", {"grant_types": ["authorization_code"], "response_types": []}),
    ("response types not a list", {"response_types": "code"}),
    ("only unknown scopes", {"scope": "launch:missiles"}),
    ("empty scope", {"scope": ""}),
    ("scope not a string", {"scope": ["read:account"]}),
    ("empty name", {"client_name": "   "}),
    ("name not a string", {"client_name": 7}),
    ("name too long", {"client_name": "n" * 256}),
    ("name with a line break", {"client_name": "Good App\nSign in here"}),
    ("client_uri http", {"client_uri": "http://app.example/"}),
    ("client_uri not a URL", {"client_uri": "app"}),
    ("logo_uri javascript", {"logo_uri": "javascript:alert(1)"}),
    ("logo_uri with userinfo", {"logo_uri": "https://good.example@evil.example/logo.png"}),
    ("logo_uri not a string", {"logo_uri": {"href": "https://app.example/logo.png"}}),
    ("logo_uri data", {"logo_uri": "data:image/png;base64,iVBORw0KGgo="}),
    ("logo_uri http", {"logo_uri": "http://app.example/logo.png"}),  # mixed content, and fetched in the clear
    ("client_uri javascript", {"client_uri": "javascript:alert(1)"}),
    ("client_uri with userinfo", {"client_uri": "https://bank.example@evil.example/"}),
    ("client_uri with a backslash", {"client_uri": "https://evil.example\\@bank.example/"}),  # a browser: evil
    ("client_uri with a space", {"client_uri": "https://bank.example /"}),
    ("client_uri with a newline", {"client_uri": "https://app.example/\nSet-Cookie: x=1"}),
    ("client_uri too long", {"client_uri": "https://app.example/" + "a" * 2048}),
]


@pytest.mark.parametrize(("case", "change"), BAD_METADATA, ids=[case for case, _ in BAD_METADATA])
def test_invalid_metadata_is_refused(open_world: World, case: str, change: dict[str, object]) -> None:
    response = register(open_world, {**PUBLIC, **change})
    assert response.status_code == 400, (case, response.text)
    assert response.json()["error"] == "invalid_client_metadata", case
    assert response.headers["cache-control"] == "no-store"


BAD_BODIES = [
    ("form encoded", b"client_name=x&redirect_uris=http://127.0.0.1/cb", "application/x-www-form-urlencoded"),
    ("no content type", b'{"redirect_uris": ["http://127.0.0.1/cb"]}', ""),
    ("text", b'{"redirect_uris": ["http://127.0.0.1/cb"]}', "text/plain"),
    ("not JSON", b"{redirect_uris:", "application/json"),
    ("an array", b'["http://127.0.0.1/cb"]', "application/json"),
    ("a string", b'"hello"', "application/json"),
    ("empty", b"", "application/json"),
    ("not UTF-8", b'{"client_name": "\xff"}', "application/json"),
    ("a lone surrogate", b'{"client_name": "\\ud800", "redirect_uris": ["http://127.0.0.1/cb"]}', "application/json"),
    (
        "a member twice",
        b'{"redirect_uris": ["http://127.0.0.1/cb"], "redirect_uris": ["https://e.example/"]}',
        "application/json",
    ),
    ("NaN", b'{"redirect_uris": ["http://127.0.0.1/cb"], "x": NaN}', "application/json"),
    ("deep nesting", b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
]


@pytest.mark.parametrize(("case", "body", "content_type"), BAD_BODIES, ids=[case for case, *_ in BAD_BODIES])
def test_a_body_that_is_not_a_json_object_is_invalid_client_metadata(
    open_world: World, case: str, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = open_world.http.post("/oauth/register", content=body, headers=headers)
    assert response.status_code == 400, (case, response.text)
    assert response.json()["error"] in ("invalid_client_metadata", "invalid_request"), case
    if case != "deep nesting":  # too large for the body limit: invalid_request, like every endpoint's
        assert response.json()["error"] == "invalid_client_metadata", case


def test_unknown_metadata_is_ignored_and_defaults_follow_rfc_7591(open_world: World) -> None:
    metadata = {
        "redirect_uris": ["https://app.example/cb", "com.example.app:/oauth"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "contacts": ["ops@app.example"],
        "tos_uri": "https://app.example/tos",
        "jwks": {"keys": []},
        "client_uri": "https://app.example/",
        "logo_uri": "https://app.example/logo.png",
        "client_name#ja-Jpan-JP": "クライアント名",
        "application/json": True,
        "token_endpoint_auth_method": None,  # null is absent: some clients send every field
        "scope": None,
        "client_name": None,
    }
    response = register(open_world, metadata)
    assert response.status_code == 201, response.text
    body = response.json()
    # RFC 7591 §2: token_endpoint_auth_method defaults to client_secret_basic, grant_types to authorization_code
    assert body["token_endpoint_auth_method"] == "client_secret_basic" and body["client_secret"]
    assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]
    assert body["redirect_uris"] == metadata["redirect_uris"]
    assert not {"software_id", "contacts", "tos_uri", "jwks", "logo_uri"} & set(body)  # no logo could be fetched
    assert body["client_uri"] == "https://app.example/"


def test_a_json_content_type_with_a_charset_is_json(open_world: World) -> None:
    import json

    response = open_world.http.post(
        "/oauth/register",
        content=json.dumps(PUBLIC).encode(),
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


def test_a_registered_client_shows_in_client_list_as_dynamic(open_world: World) -> None:
    import json

    from tests.live import cli

    client_id = register(open_world, PUBLIC).json()["client_id"]
    listed = {
        row["client_id"]: row
        for row in json.loads(cli("client", "list", "--json", database=open_world.database).stdout)
    }
    assert listed[client_id]["dynamic"] is True and listed[client_id]["public"] is True
    assert listed[client_id]["name"] == "Notes Agent"
    assert listed[open_world.public.client_id]["dynamic"] is False
    text = cli("client", "list", database=open_world.database).stdout
    assert f"{client_id}  Notes Agent  (public, dynamic)" in text


def test_errors_before_the_decision_are_not_redirected_to_a_registered_client(open_world: World) -> None:
    """RFC 9700 §4.11.2: nobody vetted the redirect URI a client registered for itself."""
    client_id = register(open_world, PUBLIC).json()["client_id"]
    open_world.login()
    params = open_world.authorize_params(client_id, redirect_uri=LOOPBACK, code_challenge_method="plain")
    response = open_world.http.get("/oauth/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers
    denied = open_world.consent(open_world.authorize_params(client_id, redirect_uri=LOOPBACK), decision="deny")
    assert denied["error"] == ["access_denied"]  # after the decision, redirected as for any client


# ---------------------------------------------------------------- client_uri and logo_uri (RFC 7591 §2)


@pytest.fixture
def logo_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientPages]:
    """An https page server on 127.0.0.1 that the app's fetcher trusts (a test CA, through SSL_CERT_FILE)."""
    ca = loopback_ca(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    with ClientPages(tls=ca.server) as pages:
        yield pages


@pytest.fixture
def logo_world(database: str, logo_pages: ClientPages) -> Iterator[World]:
    """An open registration server whose fetcher may reach the loopback page server (as URL clients' tests do)."""
    with make_world(database, settings(database, "open"), address_policy=LOOPBACK_ONLY) as running:
        running.login()
        yield running


def consent_page(world: World, client_id: str) -> str:
    page = world.http.get("/oauth/authorize", params=world.authorize_params(client_id, redirect_uri=LOOPBACK))
    assert page.status_code == 200, page.text
    return page.text


def website_link(page: str) -> tuple[str, ...] | None:
    """(href, rel, text) of the consent page's website line, unescaped; None when there is none."""
    found = re.search(
        r'<p class="app-host" id="client-website">It names <a href="([^"<>]*)" rel="([^"<>]*)">([^"<>]*)</a> '
        r"as its website.</p>",
        page,
    )
    return tuple(html.unescape(part) for part in found.groups()) if found else None


def test_client_uri_and_logo_are_kept_returned_and_shown_safely(logo_world: World, logo_pages: ClientPages) -> None:
    """The logo is fetched once, at registration, with the URL clients' guards, and shown as a data: URL (never
    hot-linked: no mixed content, nothing the browser asks the client's server); the website is the client's own
    word, so the consent page still names the host the code goes to, and says the website is only what it names."""
    logo_pages.set("/logo.png", body=PNG, content_type="image/png")
    metadata = {**PUBLIC, "client_uri": "https://bank.example/about", "logo_uri": logo_pages.url("/logo.png")}
    response = register(logo_world, metadata)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_uri"] == "https://bank.example/about" and body["logo_uri"] == logo_pages.url("/logo.png")
    for _ in range(2):
        page = consent_page(logo_world, body["client_id"])
        assert logo(page) == "data:image/png;base64," + base64.b64encode(PNG).decode()
        assert logo_pages.url("/logo.png") not in page and "logo.png" not in page
        assert span(page, "client-host") == "127.0.0.1"  # where the code goes, not the website it claims
        assert 'id="self-registered"' in page
        assert website_link(page) == ("https://bank.example/about", "noopener noreferrer nofollow", "bank.example")
    assert logo_pages.hits("/logo.png") == 1  # at registration only, not per page
    assert "data:image/png" not in cli("client", "list", "--json", database=logo_world.database).stdout


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=SVG, content_type="image/svg+xml"),  # SVG can carry script: never kept
        Reply(body=b"<script>alert(1)</script>", content_type="text/html"),
        Reply(status=404, body=b"gone", content_type="text/plain"),
        Reply(body=PNG * 5000, content_type="image/png"),  # over the logo cap
        Reply(status=302, location="http://10.0.0.1/logo.png", content_type=None),  # a redirect to a private address
    ],
    ids=["svg", "html", "404", "too-big", "redirect-to-private"],
)
def test_a_logo_that_cannot_be_kept_is_not_registered_and_not_shown(
    logo_world: World, logo_pages: ClientPages, reply: Reply
) -> None:
    """RFC 7591 §3.2.1: the server may refuse a value; the response then leaves logo_uri out, the client is still
    registered, and its consent page shows its initial, never a link to what it gave."""
    logo_pages.set("/logo", reply)
    response = register(logo_world, {**PUBLIC, "logo_uri": logo_pages.url("/logo")})
    assert response.status_code == 201, response.text
    assert "logo_uri" not in response.json() and "client_uri" not in response.json()
    page = consent_page(logo_world, response.json()["client_id"])
    app = page.split("</header>", 1)[1]  # the site's header carries the brand mark, an inline <svg>
    assert logo(page) is None and "<img" not in app and "<svg" not in app and logo_pages.url("/logo") not in page
    assert website_link(page) is None and "client-website" not in page


def test_a_logo_on_a_private_address_is_never_fetched(open_world: World) -> None:
    """Without --allow-private-client-ids the fetcher refuses loopback and private addresses (SSRF): the client is
    registered without the logo, and nothing was asked of the address."""
    with ClientPages() as pages:
        response = register(open_world, {**PUBLIC, "logo_uri": f"https://127.0.0.1:{pages.port}/logo.png"})
        assert pages.hits("/logo.png") == 0
    assert response.status_code == 201 and "logo_uri" not in response.json()


def test_markup_in_client_uri_is_shown_as_text(logo_world: World) -> None:
    """A client_uri is a URL, not HTML: quotes and angle brackets in it are escaped where the page shows it."""
    sneaky = 'https://app.example/?q="><script>alert(1)</script><img/src=x/onerror=alert(2)>'
    response = register(logo_world, {**PUBLIC, "client_uri": sneaky})
    assert response.status_code == 201 and response.json()["client_uri"] == sneaky
    page = consent_page(logo_world, response.json()["client_id"])
    assert "<script>alert" not in page and "<img/src=x" not in page
    assert website_link(page) == (sneaky, "noopener noreferrer nofollow", "app.example")  # one attribute, whole


def test_the_device_consent_page_shows_them_too(logo_world: World, logo_pages: ClientPages) -> None:
    logo_pages.set("/tv.png", body=PNG, content_type="image/png")
    metadata = {
        "client_name": "Living Room TV",
        "grant_types": [DEVICE_CODE_GRANT],
        "token_endpoint_auth_method": "none",
        "client_uri": "https://tv.example/",
        "logo_uri": logo_pages.url("/tv.png"),
    }
    client_id = register(logo_world, metadata).json()["client_id"]
    started = logo_world.http.post(
        "/oauth/device_authorization", data={"client_id": client_id, "scope": "read:account"}
    )
    assert started.status_code == 200, started.text
    page = enter(logo_world, started.json()["user_code"])
    assert page.status_code == 200, page.text
    assert logo(page.text) == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert 'href="https://tv.example/"' in page.text and 'id="self-registered"' in page.text


# ---------------------------------------------------------------- the token policy


@pytest.fixture
def token_world(database: str) -> Iterator[World]:
    with make_world(database, settings(database, "token")) as running:
        yield running


def test_token_policy_needs_an_initial_access_token(token_world: World) -> None:
    assert "registration_endpoint" in token_world.http.get("/.well-known/oauth-authorization-server").json()
    missing = register(token_world, PUBLIC)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_token"
    assert missing.headers["www-authenticate"] == 'Bearer realm="sekisho"'  # RFC 6750 §3.1: no error code
    for header in ("Bearer sek_it_wrong", "Bearer", "Basic dXNlcjpwYXNz", "Bearer a b"):
        bad = register(token_world, PUBLIC, authorization=header)
        assert bad.status_code == 401, header
        assert bad.headers["www-authenticate"].startswith('Bearer realm="sekisho", error="invalid_token"'), header
    token = initial_token(token_world)
    good = register(token_world, PUBLIC, authorization=f"Bearer {token}")
    assert good.status_code == 201, good.text


def test_a_single_use_token_registers_once_and_invalid_metadata_spends_nothing(token_world: World) -> None:
    token = initial_token(token_world, uses=1)
    auth = {"authorization": f"Bearer {token}"}
    assert register(token_world, {**PUBLIC, "grant_types": ["password"]}, **auth).status_code == 400
    assert register(token_world, PUBLIC, **auth).status_code == 201
    again = register(token_world, PUBLIC, **auth)
    assert again.status_code == 401 and again.json()["error"] == "invalid_token"


def test_an_expired_token_is_refused(token_world: World) -> None:
    token = initial_token(token_world, expires_in=60, uses=None)
    auth = {"authorization": f"Bearer {token}"}
    assert register(token_world, PUBLIC, **auth).status_code == 201
    assert register(token_world, PUBLIC, **auth).status_code == 201  # reusable until it expires
    token_world.clock.advance(60)
    expired = register(token_world, PUBLIC, **auth)
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"


def test_an_open_server_ignores_a_token(open_world: World) -> None:
    assert register(open_world, PUBLIC, authorization="Bearer whatever").status_code == 201


def test_the_last_use_of_a_token_goes_to_exactly_one_of_a_parallel_burst(database: str) -> None:
    """Twenty registrations at once with a token good for three: exactly three clients, the rest 401."""
    from tests.conftest import Clock

    with make_world(database, settings(database, "token")) as world:
        token = initial_token(world, uses=3)
    statuses = asyncio.run(burst(database, "token", 20, {"authorization": f"Bearer {token}"}, Clock()))
    assert sorted(statuses) == [201] * 3 + [401] * 17
    assert dynamic_clients(database) == 3


# ---------------------------------------------------------------- the per-address limit


def test_a_parallel_burst_from_one_address_is_held_to_the_limit(database: str) -> None:
    from tests.conftest import Clock

    with make_world(database, settings(database, "open")):
        pass
    clock = Clock()
    statuses = asyncio.run(burst(database, "open", 30, {}, clock, limit=5))
    assert sorted(statuses) == [201] * 5 + [429] * 25
    assert dynamic_clients(database) == 5


def test_the_limit_answers_retry_after_and_lifts_after_the_hour(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    with make_world(database, settings(database, "open", registration_limit=2)) as world:
        assert [register(world, PUBLIC).status_code for _ in range(2)] == [201, 201]
        world.clock.advance(600)
        refused = register(world, PUBLIC)
        assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
        assert refused.headers["retry-after"] == str(3600 - 600)
        assert refused.headers["cache-control"] == "no-store"
        events = [r.fields for r in caplog.records if r.name == "sekisho.security"]  # type: ignore[attr-defined]
        assert events == [{"event": "registration_throttled", "address": "testclient", "retry_after": 3000}]
        world.clock.advance(3000)
        assert register(world, PUBLIC).status_code == 201


async def burst(
    database: str, policy: str, count: int, headers: dict[str, str], clock: Any, *, limit: int = 20
) -> list[int]:
    """`count` registrations at once (asyncio.gather) through the app's ASGI interface, one address."""
    import httpx2

    from sekisho.server.web.app import create_app

    app = create_app(settings(database, policy, registration_limit=limit), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, client=("203.0.113.7", 4000))
        async with httpx2.AsyncClient(transport=transport, base_url=ISSUER) as http:
            answers = await asyncio.gather(
                *(http.post("/oauth/register", json=PUBLIC, headers=headers) for _ in range(count))
            )
    return [answer.status_code for answer in answers]


def dynamic_clients(database: str) -> int:
    from tests import sql

    return int(sql.rows(database, "SELECT count(*) FROM clients WHERE dynamic = 1")[0][0])


# ---------------------------------------------------------------- the purge (Hydra #1574: tables that only grow)


def purge_now(world: World, dynamic_clients: int) -> dict[str, int]:
    from sekisho.server.purge import purge

    async def run() -> dict[str, int]:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            return await purge(store, int(world.clock()), pause=0, dynamic_clients=dynamic_clients)
        finally:
            await store.close()

    return asyncio.run(run())


def client_ids(world: World) -> set[str]:
    from tests import sql

    return {row[0] for row in sql.rows(world.database, "SELECT client_id FROM clients")}


def test_a_registered_client_that_never_completed_a_grant_is_purged_after_the_set_time(open_world: World) -> None:
    never = register(open_world, PUBLIC).json()["client_id"]
    used = register(open_world, PUBLIC).json()["client_id"]
    consented = register(open_world, PUBLIC).json()["client_id"]
    open_world.login()
    code, verifier = open_world.code(used, redirect_uri=LOOPBACK)
    exchanged = open_world.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": LOOPBACK,
            "client_id": used,
        },
    )
    assert exchanged.status_code == 200
    open_world.code(consented, redirect_uri=LOOPBACK)  # a code, never exchanged: the consent made a grant
    open_world.clock.advance(600)
    late = register(open_world, PUBLIC).json()["client_id"]
    before = client_ids(open_world)

    assert purge_now(open_world, dynamic_clients=3600)["dynamic_clients"] == 0  # nobody is old enough yet
    open_world.clock.advance(3601 - 600)
    removed = purge_now(open_world, dynamic_clients=3600)
    assert removed["dynamic_clients"] == 1
    assert client_ids(open_world) == before - {never}
    # the operator's clients are never purged, used or not (the confidential one never was)
    assert {open_world.confidential.client_id, open_world.public.client_id} <= client_ids(open_world)
    page = open_world.http.get("/oauth/authorize", params=open_world.authorize_params(never, redirect_uri=LOOPBACK))
    assert page.status_code == 400  # an unknown client_id now
    open_world.clock.advance(600)
    assert purge_now(open_world, dynamic_clients=3600)["dynamic_clients"] == 1  # `late` had its hour too
    assert late not in client_ids(open_world) and {used, consented} <= client_ids(open_world)


def test_a_client_whose_grants_were_all_revoked_and_purged_goes_too(open_world: World) -> None:
    client_id = register(open_world, {**PUBLIC, "grant_types": ["authorization_code", "refresh_token"]}).json()[
        "client_id"
    ]
    open_world.login()
    code, verifier = open_world.code(client_id, redirect_uri=LOOPBACK)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": LOOPBACK}
    tokens = open_world.http.post("/oauth/token", data={**data, "client_id": client_id}).json()
    open_world.http.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": client_id})
    open_world.clock.advance(2 * 24 * 3600)
    purge_now(open_world, dynamic_clients=3600)  # the grant is revoked, but its refresh token is still kept
    assert client_id in client_ids(open_world)
    open_world.clock.advance(181 * 24 * 3600)  # every token of it is past its use, then the revoked grant
    removed = purge_now(open_world, dynamic_clients=3600)
    assert removed["grants"] == 1 and removed["dynamic_clients"] == 1
    assert client_id not in client_ids(open_world)


def test_spent_and_expired_initial_access_tokens_are_purged(token_world: World) -> None:
    from tests import sql

    spent = initial_token(token_world, uses=1)
    initial_token(token_world, expires_in=60, uses=None)
    initial_token(token_world, expires_in=None, uses=None)  # good forever: stays
    assert register(token_world, PUBLIC, authorization=f"Bearer {spent}").status_code == 201
    token_world.clock.advance(61)
    assert purge_now(token_world, dynamic_clients=3600)["registration_tokens"] == 2
    assert sql.count(token_world.database, "registration_tokens") == 1


def test_sekisho_purge_takes_the_time_and_the_server_purges_on_its_own(database: str) -> None:
    import json
    import time

    from tests import sql
    from tests.live import cli

    with make_world(database, settings(database, "open", registration_purge_after=60), purge_interval=0.05) as world:
        world.clock.now = time.time() - 7200
        client_id = register(world, PUBLIC).json()["client_id"]
        world.clock.now = time.time() + 61  # the app's clock: its timer's purge removes the client
        deadline = time.monotonic() + 10
        while client_id in client_ids(world) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client_id not in client_ids(world)
        world.clock.now = time.time() - 7200  # registered two hours ago by the wall clock
        other = register(world, PUBLIC).json()["client_id"]
        kept = cli("purge", "--json", "--registration-purge-after", "9000", database=database)
        assert json.loads(kept.stdout)["dynamic_clients"] == 0 and other in client_ids(world)
        removed = cli("purge", "--json", "--registration-purge-after", "3600", database=database)
        assert json.loads(removed.stdout)["dynamic_clients"] == 1
        assert sql.rows(database, "SELECT count(*) FROM clients WHERE dynamic = 1") == [(0,)]
