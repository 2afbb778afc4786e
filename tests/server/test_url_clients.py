"""URL client ids through the authorization endpoint, against real client pages served on 127.0.0.1.

The app fetches with `AddressPolicy(also_allowed=127.0.0.1/32)`: http to 127.0.0.1 is fetched (that is where the
page server listens) while every other private, loopback or reserved address stays blocked. Names go through an
injected resolver, so `ok.test` is 127.0.0.1 and `evil.test` is 10.0.0.5 without any real DNS.
"""

from __future__ import annotations

import base64
import html
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sekisho import __version__
from sekisho.server.fetch import AddressPolicy, Resolver
from tests.client_pages import PNG, SVG, ClientPages, Reply, closed_port, wait_for
from tests.conftest import ISSUER, World, hidden_fields, make_world

LOOPBACK_ONLY = AddressPolicy(also_allowed=(ipaddress.ip_network("127.0.0.1/32"),))
HOSTS = {
    "ok.test": ["127.0.0.1"],
    "localhost": ["127.0.0.1"],
    "evil.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["10.0.0.5", "127.0.0.1"],  # one allowed address among blocked ones: the allowed one is used
}
PREFIX = "the client_id page cannot be used: "
REDIRECTED = "the client_id URL answered with a redirect; the client's page must be at the client_id URL itself"


async def fake_resolver(host: str, port: int) -> list[str]:
    if host in HOSTS:
        return list(HOSTS[host])
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@contextmanager
def url_world(
    database: str, policy: AddressPolicy = LOOPBACK_ONLY, resolver: Resolver = fake_resolver
) -> Iterator[World]:
    """conftest's world, with an address policy and a resolver for URL clients; alice is signed in."""
    with make_world(database, address_policy=policy, resolver=resolver) as world:
        world.login()
        yield world


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One app for the module: each test's page server has its own port, so its client ids are its own."""
    with url_world(f"sqlite:///{tmp_path_factory.mktemp('url-clients') / 'sekisho.db'}") as running:
        yield running


_USED_PORTS: set[int] = set()


@pytest.fixture
def pages() -> Iterator[ClientPages]:
    """A page server on a port no earlier test of this module used: the shared app may have cached those pages."""
    refused = []
    running = ClientPages()
    while running.port in _USED_PORTS:
        refused.append(running)  # kept bound until a fresh port is found, so the OS cannot hand it out again
        running = ClientPages()
    for spare in refused:
        spare.close()
    _USED_PORTS.add(running.port)
    with running:
        yield running


# ---------------------------------------------------------------- helpers


def start(world: World, client_id: str, redirect_uri: str, **headers: str) -> httpx.Response:
    params = world.authorize_params(client_id, redirect_uri=redirect_uri)
    return world.http.get("/oauth/authorize", params=params, headers=headers, follow_redirects=False)


def consent(world: World, client_id: str, redirect_uri: str) -> str:
    """The consent page's HTML for an authorization request by this client."""
    response = start(world, client_id, redirect_uri)
    assert response.status_code == 200, response.text
    assert 'name="decision" value="allow"' in response.text
    return response.text


def refused(
    world: World, client_id: str, redirect_uri: str = "http://127.0.0.1/cb", error: str = "invalid_client"
) -> str:
    """A 400 error page (never a redirect) naming `error`; returns its description."""
    response = start(world, client_id, redirect_uri)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    code = re.search(r'<strong id="error-code">([^<]*)</strong>', response.text)
    description = re.search(r'<p id="error-description">(.*?)</p>', response.text, re.S)
    assert code and description, response.text
    assert code.group(1) == error
    return html.unescape(description.group(1))


def page_error(world: World, client_id: str, redirect_uri: str = "http://127.0.0.1/cb") -> str:
    """The description of a 400 `invalid_request` caused by the client's page (issue 3), without the common prefix."""
    description = refused(world, client_id, redirect_uri, error="invalid_request")
    assert description.startswith(PREFIX), description
    return description.removeprefix(PREFIX)


def accepted(world: World, client_id: str, redirect_uri: str) -> bool:
    response = start(world, client_id, redirect_uri)
    if response.status_code == 200:
        return True
    assert response.status_code == 400, response.text
    assert '<strong id="error-code">invalid_request</strong>' in response.text
    assert "redirect_uri is not registered for this client" in response.text
    return False


def allow(world: World, client_id: str, redirect_uri: str) -> tuple[str, str]:
    """Consent and allow; returns (the Location the browser is sent to, the PKCE verifier)."""
    params = world.authorize_params(client_id, redirect_uri=redirect_uri)
    page = world.http.get("/oauth/authorize", params=params, follow_redirects=False)
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "decision": "allow"}
    response = world.http.post("/oauth/authorize", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"], world.verifiers[params["code_challenge"]]


def token(world: World, client_id: str, code: str, verifier: str, redirect_uri: str) -> dict[str, object]:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
    }
    response = world.http.post("/oauth/token", data=data)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def full_flow(world: World, client_id: str, redirect_uri: str, token_client_id: str | None = None) -> dict[str, object]:
    location, verifier = allow(world, client_id, redirect_uri)
    assert location.startswith(redirect_uri + ("&" if "?" in redirect_uri else "?"))
    query = parse_qs(urlsplit(location).query)
    assert query["iss"] == [ISSUER]
    tokens = token(world, token_client_id or client_id, query["code"][0], verifier, redirect_uri)
    assert tokens["scope"] == "read:account write:notes"
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"}, json={})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    return tokens


def span(page: str, ident: str) -> str:
    found = re.search(rf'<span [^>]*id="{ident}"[^>]*>(.*?)</span>', page, re.S)
    assert found, f"no #{ident} on the page"
    return html.unescape(found.group(1))


def logo(page: str) -> str | None:
    found = re.search(r'<img [^>]*id="app-logo" [^>]*src="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def healthy(world: World) -> None:
    response = world.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200 and response.json()["issuer"] == ISSUER


def h_app(name: str, url: str = "/", extra: str = "") -> str:
    return f'<div class="h-app"><a class="u-url p-name" href="{url}">{name}</a>{extra}</div>'


# ---------------------------------------------------------------- where redirect URIs come from


def test_link_header_only(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", link_headers=[f'<{callback}>; rel="redirect_uri"'])
    client_id = pages.url("/app/")
    assert accepted(site, client_id, callback)
    assert not accepted(site, client_id, pages.url("/other"))
    full_flow(site, client_id, callback)


def test_link_elements_only(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback])
    client_id = pages.url("/app/")
    assert accepted(site, client_id, callback)
    assert not accepted(site, client_id, pages.url("/other"))
    full_flow(site, client_id, callback)


def test_header_and_elements_are_merged(site: World, pages: ClientPages) -> None:
    from_header, from_element = pages.url("/from-header"), pages.url("/from-element")
    pages.html("/app/", links=[from_element], link_headers=[f'<{from_header}>; rel="redirect_uri"'])
    client_id = pages.url("/app/")
    assert accepted(site, client_id, from_header)
    assert accepted(site, client_id, from_element)
    full_flow(site, client_id, from_header)
    full_flow(site, client_id, from_element)


def test_several_of_each(site: World, pages: ClientPages) -> None:
    uris = [pages.url(f"/cb/{n}") for n in range(7)]
    pages.html(
        "/app/",
        links=uris[4:],
        link_headers=[
            f'<{uris[0]}>; rel="redirect_uri"',
            f'<{uris[1]}>; rel="redirect_uri", <{pages.url("/style.css")}>; rel="stylesheet", '
            f'<{uris[2]}>; rel="redirect_uri"',
            f'<{uris[3]}>; rel="me redirect_uri"',
        ],
        app=f'<link rel="stylesheet" href="/x.css"><a rel="me" href="{pages.url("/me")}">me</a>',
    )
    client_id = pages.url("/app/")
    assert all(accepted(site, client_id, uri) for uri in uris)
    for other in (pages.url("/style.css"), pages.url("/me"), pages.url("/x.css")):
        assert not accepted(site, client_id, other)
    assert pages.hits("/app/") == 1  # one fetch for all these authorizations (cached)


def test_no_redirect_uri_is_a_400_page(site: World, pages: ClientPages) -> None:
    pages.html("/app/", app='<a rel="me" href="/me">me</a>', link_headers=['</style.css>; rel="stylesheet"'])
    assert page_error(site, pages.url("/app/")) == (
        'the client_id page names no redirect_uri (Link header or <link rel="redirect_uri">)'
    )


def test_no_redirect_uri_as_json_error(site: World, pages: ClientPages) -> None:
    pages.html("/app/")
    response = start(site, pages.url("/app/"), pages.url("/cb"), Accept="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": PREFIX
        # RFC 6749 §5.2 leaves '"' out of error_description's characters: the JSON carries ' instead (errors.py)
        + "the client_id page names no redirect_uri (Link header or <link rel='redirect_uri'>)",
    }


def test_relative_and_absolute_hrefs(site: World, pages: ClientPages) -> None:
    pages.html(
        "/app/index.html",
        links=["cb", "/root-cb", "../up-cb", "?q=1", pages.url("/absolute"), "https://app.example/cb"],
        link_headers=['<header-cb>; rel="redirect_uri"', '</header-root>; rel="redirect_uri"'],
    )
    client_id = pages.url("/app/index.html")
    for path in ("/app/cb", "/root-cb", "/up-cb", "/app/index.html?q=1", "/absolute", "/app/header-cb", "/header-root"):
        assert accepted(site, client_id, pages.url(path)), path
    assert accepted(site, client_id, "https://app.example/cb")
    for unresolved in ("cb", "/root-cb", "header-cb"):
        response = start(site, client_id, unresolved)
        assert response.status_code == 400
    assert not accepted(site, client_id, pages.url("/cb"))


def test_a_moved_client_page_is_not_followed(site: World, pages: ClientPages) -> None:
    """Issue 21 finding 2: this test once pinned that a redirect was followed and hrefs resolved on the new page."""
    pages.redirect("/app", pages.url("/v2/app/page"))
    pages.html("/v2/app/page", links=["cb"], link_headers=['<hcb>; rel="redirect_uri"'])
    client_id = pages.url("/app")
    for callback in ("/v2/app/cb", "/v2/app/hcb", "/cb", "/hcb"):
        assert page_error(site, client_id, pages.url(callback)) == REDIRECTED
    assert pages.hits("/v2/app/page") == 0


def test_redirect_uri_with_its_own_query(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb?app=notes&lang=ja")
    pages.html("/app/", links=[callback.replace("&", "&amp;")])
    client_id = pages.url("/app/")
    location, verifier = allow(site, client_id, callback)
    assert location.startswith(callback + "&code=")
    query = parse_qs(urlsplit(location).query)
    assert query["app"] == ["notes"] and query["lang"] == ["ja"] and query["iss"] == [ISSUER]
    token(site, client_id, query["code"][0], verifier, callback)
    assert not accepted(site, client_id, pages.url("/cb"))  # the query is part of the exact match
    assert not accepted(site, client_id, pages.url("/cb?lang=ja&app=notes"))


def test_unusable_redirect_uris_are_dropped(site: World, pages: ClientPages) -> None:
    good = pages.url("/cb")
    bad = [
        "javascript:alert(1)",
        "data:text/html,hi",
        "http://evil.example/cb",  # http only for loopback
        "https://app.example/cb#fragment",
        "http://[oops/cb",
    ]
    pages.html("/app/", links=[*bad, good], link_headers=[f'<{uri}>; rel="redirect_uri"' for uri in bad])
    client_id = pages.url("/app/")
    assert accepted(site, client_id, good)
    for uri in bad:
        assert start(site, client_id, uri).status_code == 400, uri


def test_only_unusable_redirect_uris_is_no_redirect_uri(site: World, pages: ClientPages) -> None:
    pages.html("/app/", links=["javascript:alert(1)", "http://evil.example/cb"])
    assert "names no redirect_uri" in page_error(site, pages.url("/app/"))


def test_text_page_with_link_header(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.set(
        "/app", body=b"an app", content_type="text/plain", headers=[("Link", f'<{callback}>; rel="redirect_uri"')]
    )
    client_id = pages.url("/app")
    page = consent(site, client_id, callback)
    assert span(page, "app-name") == client_id


def test_page_of_another_type_without_link_header(site: World, pages: ClientPages) -> None:
    pages.set("/app", body=b"an app", content_type="text/plain")
    assert page_error(site, pages.url("/app")) == "the client_id page is text/plain, not HTML or JSON"
    pages.set("/typeless", body=b"<link rel=redirect_uri href=/cb>", content_type=None)
    assert page_error(site, pages.url("/typeless")) == "the client_id page is of no type, not HTML or JSON"


# ---------------------------------------------------------------- h-app: name and logo


def test_h_app_name_shown_when_u_url_matches(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app=h_app("Note   Taker\n  Deluxe", "/app/"))
    page = consent(site, pages.url("/app/"), callback)
    assert span(page, "app-name") == "Note Taker Deluxe"
    assert span(page, "client-host") == f"127.0.0.1:{pages.port}"
    assert span(page, "client-id") == pages.url("/app/")


def test_h_app_u_url_matches_after_normalisation(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    # The page is the root; the h-app says it without the slash and with the default-less port written out.
    pages.html("/", links=[callback], app=h_app("Root App", f"HTTP://127.0.0.1:{pages.port}"))
    assert span(consent(site, pages.url(""), callback), "app-name") == "Root App"


def test_h_app_with_mismatching_u_url_is_not_believed(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app=h_app("Bank of Trust", "https://bank.example/"))
    page = consent(site, pages.url("/app/"), callback)
    assert "Bank of Trust" not in page
    assert span(page, "app-name") == pages.url("/app/")
    assert span(page, "client-host") == f"127.0.0.1:{pages.port}"


def test_h_app_without_u_url_is_not_believed(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app='<div class="h-app"><span class="p-name">Nameless</span></div>')
    page = consent(site, pages.url("/app/"), callback)
    assert "Nameless" not in page and span(page, "app-name") == pages.url("/app/")


def test_no_h_app_shows_the_client_id(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app="<h1>My App</h1>")
    page = consent(site, pages.url("/app/"), callback)
    assert span(page, "app-name") == pages.url("/app/")
    assert logo(page) is None


def test_the_matching_h_app_among_several(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    apps = h_app("Other App", "https://other.example/") + h_app("The Right App", "/app/")
    pages.html("/app/", links=[callback], app=f'<div class="h-card"><p class="p-name">Author</p>{apps}</div>')
    assert span(consent(site, pages.url("/app/"), callback), "app-name") == "The Right App"


def test_legacy_h_x_app(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    app = '<div class="h-x-app"><a class="u-url p-name" href="/app/">Old App</a></div>'
    pages.html("/app/", links=[callback], app=app)
    assert span(consent(site, pages.url("/app/"), callback), "app-name") == "Old App"


def test_long_name_is_cut(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app=h_app("N" * 5000, "/app/"))
    assert span(consent(site, pages.url("/app/"), callback), "app-name") == "N" * 100


def test_logo_is_shown_as_a_data_url(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.set("/logo.png", body=PNG, content_type="image/png")
    pages.html("/app/", links=[callback], app=h_app("Pretty App", "/app/", '<img class="u-logo" src="/logo.png">'))
    page = consent(site, pages.url("/app/"), callback)
    assert logo(page) == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert "logo.png" not in page  # never hot-linked: the browser does not ask the client's server
    assert pages.hits("/logo.png") == 1
    logged = [entry for entry in pages.log if entry.path == "/logo.png"][0]
    assert logged.headers["user-agent"] == f"sekisho/{__version__} (+{ISSUER}/)"
    # Cached with the page: a second authorization shows the same logo without fetching either again.
    assert logo(consent(site, pages.url("/app/"), callback)) == logo(page)
    assert pages.hits("/logo.png") == 1 and pages.hits("/app/") == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=SVG, content_type="image/svg+xml"),  # SVG can carry script: never shown
        Reply(body=PNG, content_type="text/html"),
        Reply(body=PNG, content_type=None),
        Reply(status=404, body=b"gone", content_type="text/plain"),
        Reply(body=PNG * 5000, content_type="image/png"),  # over the logo cap
        Reply(status=302, location="http://10.0.0.1/logo.png", content_type=None),
        Reply(body=PNG, content_type="image/png", delay=3.5),  # the logo has a shorter budget than the page
    ],
    ids=["svg", "wrong-type", "no-type", "404", "too-big", "redirect-to-private", "slow"],
)
def test_a_bad_logo_is_no_logo_and_no_error(site: World, pages: ClientPages, reply: Reply) -> None:
    callback = pages.url("/cb")
    pages.set("/logo", reply)
    pages.html("/app/", links=[callback], app=h_app("App", "/app/", '<img class="u-logo" src="/logo">'))
    page = consent(site, pages.url("/app/"), callback)
    assert span(page, "app-name") == "App"
    app = page.split("</header>", 1)[1]  # the site's header carries the brand mark, an inline <svg>
    assert logo(page) is None and "<img" not in app and "<svg" not in app and pages.url("/logo") not in page
    assert pages.hits("/logo") == 1  # tried once, with the guards


def test_a_logo_may_follow_a_few_redirects(site: World, pages: ClientPages) -> None:
    """Only the client's page must be at its URL; a logo follows up to 3 redirects, each hop checked."""
    callback = pages.url("/cb")
    pages.redirect("/logo", "/logo/1", 301)
    pages.redirect("/logo/1", pages.url("/logo/2", "ok.test"), 302)
    pages.redirect("/logo/2", "/logo.png", 307)
    pages.set("/logo.png", body=PNG, content_type="image/png")
    pages.html("/app/", links=[callback], app=h_app("App", "/app/", '<img class="u-logo" src="/logo">'))
    assert (
        logo(consent(site, pages.url("/app/"), callback)) == "data:image/png;base64," + base64.b64encode(PNG).decode()
    )
    pages.redirect("/far", "/logo")  # a fourth hop is one too many: no logo, and no error
    pages.html("/app2/", links=[callback], app=h_app("App", "/app2/", '<img class="u-logo" src="/far">'))
    assert logo(consent(site, pages.url("/app2/"), callback)) is None
    assert pages.hits("/logo.png") == 1


@pytest.mark.parametrize("src", ["http://10.0.0.1/logo.png", "http://169.254.169.254/latest", "file:///etc/passwd"])
def test_logo_at_a_private_address_is_never_fetched(site: World, pages: ClientPages, src: str) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app=h_app("App", "/app/", f'<img class="u-logo" src="{src}">'))
    page = consent(site, pages.url("/app/"), callback)
    assert logo(page) is None and src not in page


# ---------------------------------------------------------------- JSON client ID metadata documents


def document(client_id: str, **fields: object) -> str:
    return json.dumps({"client_id": client_id, **fields})


def test_json_document(site: World, pages: ClientPages) -> None:
    client_id, callback = pages.url("/client.json"), pages.url("/cb")
    pages.set("/logo.png", body=PNG, content_type="image/png")
    pages.json(
        "/client.json",
        document(
            client_id,
            client_name="Json App",
            redirect_uris=[callback],
            logo_uri=pages.url("/logo.png"),
            client_uri=pages.url("/"),
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
        ),
    )
    page = consent(site, client_id, callback)
    assert span(page, "app-name") == "Json App"
    assert logo(page) == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert span(page, "client-host") == f"127.0.0.1:{pages.port}"
    tokens = full_flow(site, client_id, callback)
    assert str(tokens["access_token"]).startswith("sek_at_")
    assert not accepted(site, client_id, pages.url("/other"))
    logged = [entry for entry in pages.log if entry.path == "/client.json"][0]
    assert "application/json" in logged.headers["accept"]


def test_json_document_with_structured_suffix_type(site: World, pages: ClientPages) -> None:
    client_id, callback = pages.url("/client"), pages.url("/cb")
    pages.json("/client", document(client_id, redirect_uris=[callback]), content_type="application/x-client+json")
    page = consent(site, client_id, callback)
    assert span(page, "app-name") == client_id  # no client_name: the client_id is the name


def test_json_client_id_mismatch(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.json("/client.json", document("https://app.example/client.json", redirect_uris=[callback]))
    assert page_error(site, pages.url("/client.json"), callback) == (
        "the client metadata document's client_id is not the URL it was fetched from"
    )


def test_json_client_id_must_be_given(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.json("/client.json", json.dumps({"redirect_uris": [callback]}))
    assert "client_id is not the URL" in page_error(site, pages.url("/client.json"), callback)


@pytest.mark.parametrize("uris", [None, []], ids=["absent", "empty"])
def test_json_without_redirect_uris(site: World, pages: ClientPages, uris: list[str] | None) -> None:
    client_id = pages.url("/client.json")
    fields = {} if uris is None else {"redirect_uris": uris}
    pages.json("/client.json", document(client_id, client_name="X", **fields))
    assert page_error(site, client_id) == (
        'the client_id page names no redirect_uri (Link header or <link rel="redirect_uri">)'
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"token_endpoint_auth_method": "client_secret_post"},
        {"token_endpoint_auth_method": "client_secret_jwt"},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"client_secret": "s3cret"},
    ],
)
def test_json_with_client_secret_methods(site: World, pages: ClientPages, fields: dict[str, str]) -> None:
    client_id, callback = pages.url("/client.json"), pages.url("/cb")
    pages.json("/client.json", document(client_id, redirect_uris=[callback], **fields))
    assert page_error(site, client_id, callback) == (
        "URL clients cannot use client secrets (token_endpoint_auth_method must be none)"
    )


def test_json_merged_with_link_header(site: World, pages: ClientPages) -> None:
    client_id, in_json, in_header = pages.url("/client.json"), pages.url("/json-cb"), pages.url("/header-cb")
    pages.json(
        "/client.json",
        document(client_id, redirect_uris=[in_json]),
        headers=[("Link", '</header-cb>; rel="redirect_uri"')],
    )
    assert accepted(site, client_id, in_json)
    assert accepted(site, client_id, in_header)
    full_flow(site, client_id, in_header)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the client metadata document is not valid JSON"),
        (b"", "the client metadata document is not valid JSON"),
        (b"\xff\xfe{}", "the client metadata document is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "the client metadata document is not valid JSON"),
        (b'{"a": NaN', "the client metadata document is not valid JSON"),
        (b'["https://x/"]', "the client metadata document must be a JSON object"),
        (b'"https://x/"', "the client metadata document must be a JSON object"),
        (b"null", "the client metadata document must be a JSON object"),
    ],
    ids=["broken", "empty", "not-utf8", "deep", "nan-unclosed", "list", "string", "null"],
)
def test_malformed_json(site: World, pages: ClientPages, body: bytes, reason: str) -> None:
    pages.json("/client.json", body)
    assert page_error(site, pages.url("/client.json")) == reason
    healthy(site)


@pytest.mark.parametrize(
    "uris",
    ["https://x/cb", [1, 2], [None], {"a": "b"}, [["https://x/cb"]]],
    ids=["string", "numbers", "null", "object", "nested"],
)
def test_json_redirect_uris_of_the_wrong_shape(site: World, pages: ClientPages, uris: object) -> None:
    client_id = pages.url("/client.json")
    pages.json("/client.json", json.dumps({"client_id": client_id, "redirect_uris": uris}))
    assert page_error(site, client_id) == "redirect_uris must be a list of strings"


@pytest.mark.parametrize(
    "fields",
    [
        {"client_name": 5, "logo_uri": ["x"]},
        {"client_name": {"en": "x"}, "logo_uri": 3, "client_uri": None},
        {"client_name": "", "logo_uri": "javascript:alert(1)"},
        {"client_name": "   ", "logo_uri": "http://[oops/logo.png"},
        {"client_name": None, "logo_uri": "https://[oops/logo.png"},
        {"client_name": None, "logo_uri": "https://☃.example/logo.png"},
    ],
)
def test_json_odd_name_and_logo_are_ignored(site: World, pages: ClientPages, fields: dict[str, object]) -> None:
    client_id, callback = pages.url("/client.json"), pages.url("/cb")
    pages.json("/client.json", document(client_id, redirect_uris=[callback], **fields))
    page = consent(site, client_id, callback)
    assert span(page, "app-name") == client_id and logo(page) is None


# ---------------------------------------------------------------- pages that fail


@pytest.mark.parametrize("status", [404, 403, 410, 500, 503])
def test_error_status_is_named(site: World, pages: ClientPages, status: int) -> None:
    pages.set("/app/", status=status, body=b"<link rel=redirect_uri href=/cb>")
    assert page_error(site, pages.url("/app/"), pages.url("/cb")) == f"{pages.url('/app/')} answered HTTP {status}"


def test_404_page(site: World, pages: ClientPages) -> None:
    assert page_error(site, pages.url("/nowhere")) == f"{pages.url('/nowhere')} answered HTTP 404"


@pytest.mark.parametrize("status", [201, 204, 206, 304])
def test_other_success_status_is_refused(site: World, pages: ClientPages, status: int) -> None:
    pages.set("/app/", status=status, body=b"" if status in (204, 304) else b"<link rel=redirect_uri href=/cb>")
    assert page_error(site, pages.url("/app/")) == f"{pages.url('/app/')} answered HTTP {status}, not 200"


def test_unreachable_page(site: World) -> None:
    port = closed_port()
    assert page_error(site, f"http://127.0.0.1:{port}/app") == f"127.0.0.1:{port} could not be reached (ConnectError)"


def test_unknown_host(site: World) -> None:
    assert page_error(site, "http://nowhere.test/app") == "nowhere.test could not be reached (ConnectError)"


def test_slow_page_times_out_after_5_s_while_the_server_keeps_serving(site: World, pages: ClientPages) -> None:
    pages.html("/slow", links=[pages.url("/cb")], delay=6.0)
    outcome: dict[str, object] = {}

    def slow() -> None:
        began = time.monotonic()
        outcome["description"] = page_error(site, pages.url("/slow"), pages.url("/cb"))
        outcome["elapsed"] = time.monotonic() - began

    worker = threading.Thread(target=slow)
    worker.start()
    try:
        assert wait_for(lambda: pages.hits("/slow") == 1)
        began = time.monotonic()
        healthy(site)  # the fetch does not hold up other requests
        assert time.monotonic() - began < 2.0
    finally:
        worker.join(timeout=10)
    assert outcome["description"] == f"127.0.0.1:{pages.port} did not answer within 5 s"
    assert 4.9 <= float(outcome["elapsed"]) < 6.5  # type: ignore[arg-type]


def test_a_burst_of_slow_pages_on_one_host_is_capped_and_other_hosts_are_served(
    site: World, pages: ClientPages
) -> None:
    """Issue 21, fetch caps: 25 slow pages of one host held every connection and delayed another client's consent."""
    callback = pages.url("/cb")
    held = threading.Event()
    pages.html("/slow/", links=[callback], hold=held)
    pages.html("/app/", links=[callback], app=h_app("Other App", "/app/"))
    slow = f"http://ok.test:{pages.port}/slow/"
    answers: list[httpx.Response] = []
    burst = [threading.Thread(target=lambda: answers.append(start(site, slow, callback))) for _ in range(25)]
    for worker in burst:
        worker.start()
    try:
        assert wait_for(lambda: pages.waiting("/slow/") == 4)
        assert span(consent(site, pages.url("/app/"), callback), "app-name") == "Other App"  # another host: served
        # The other 21 are told the host is busy, within a bounded wait, while the 4 in flight are still held.
        assert wait_for(lambda: len(answers) == 21, timeout=10)
        assert pages.waiting("/slow/") == 4 and not held.is_set()
        assert {(answer.status_code, "location" in answer.headers) for answer in answers} == {(400, False)}
        busy = "ok.test is busy or slow (too many fetches to it at once); try again"
        assert page_error(site, slow, callback) == busy
    finally:
        held.set()
        for worker in burst:
            worker.join(timeout=10)
    assert all(busy in html.unescape(answer.text) for answer in answers[:21])
    assert [answer.status_code for answer in answers[21:]] == [200] * 4  # the held ones, served once let go
    assert pages.peak("/slow/") == 4
    healthy(site)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"x" * (256 * 1024 + 1)),
        Reply(body=b"x" * (256 * 1024 + 1), content_length=False),
        Reply(body=b"x" * 65536, repeat=16384, content_length=False),  # a gigabyte, never sent whole
        Reply(body=b"x" * 65536, repeat=16384),  # a gigabyte announced
        Reply(body=b"<html>", content_length=1024**4),  # a terabyte announced, barely sent
    ],
    ids=["length", "no-length", "gigabyte", "gigabyte-announced", "terabyte-claim"],
)
def test_oversized_page(site: World, pages: ClientPages, reply: Reply) -> None:
    pages.set("/big", reply)
    began = time.monotonic()
    assert page_error(site, pages.url("/big")) == f"{pages.url('/big')} is larger than 256 KiB"
    assert time.monotonic() - began < 3
    healthy(site)


def test_page_just_under_the_cap(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    head = f'<link rel="redirect_uri" href="{callback}">'.encode()
    pages.set("/big", body=head + b" " * (256 * 1024 - len(head)), content_length=False)
    consent(site, pages.url("/big"), callback)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_client_page_is_never_reached_through_a_redirect(site: World, pages: ClientPages, status: int) -> None:
    """Issue 21 finding 2: this test once pinned that 3 redirects were followed; now none is."""
    callback = pages.url("/cb")
    pages.redirect("/1", "/2", status)
    pages.html("/2", links=[callback], app=h_app("Moved App", pages.url("/1")))
    assert page_error(site, pages.url("/1"), callback) == REDIRECTED
    assert [entry.path for entry in pages.log] == ["/1"]
    healthy(site)


def test_redirect_loop(site: World, pages: ClientPages) -> None:
    pages.redirect("/loop", "/loop")
    assert page_error(site, pages.url("/loop")) == REDIRECTED
    assert pages.hits("/loop") == 1
    healthy(site)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/",
        "http://[::ffff:10.0.0.1]/",
        "http://evil.test:{port}/",
        "http://metadata.test/",
        "https://10.0.0.1/",
        "http://ok.test:{port}/attacker",
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:6379/_INFO",
        "http://u:p@127.0.0.1/",
        "http://[oops/",
        "http://127.0.0.1:99999/",
        "https://xn--.example/",
        "http://%zz/",
        "",
    ],
)
def test_a_redirect_is_refused_wherever_it_points(
    site: World, pages: ClientPages, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21 finding 2: these tests once pinned each hop's own refusal; the first redirect now ends the fetch."""
    pages.redirect("/app/", target.format(port=pages.port))
    assert page_error(site, pages.url("/app/")) == REDIRECTED
    assert [entry.path for entry in pages.log] == ["/app/"]
    assert not [record for record in caplog.records if record.name == "sekisho.security"]  # nothing else connected
    healthy(site)


def test_an_open_redirect_on_the_clients_host_cannot_speak_for_it(site: World, pages: ClientPages) -> None:
    """Issue 21 finding 2: app.example/go?to=… led to the attacker's page, whose h-app named the client_id."""
    legit = pages.url("/go")  # the app's own page (it has one), and its open redirect beside it
    pages.html("/", links=[pages.url("/cb")], app=h_app("Legit App", "/"))
    attacker = f"http://ok.test:{pages.port}/attacker"
    client_id = f"{legit}?to={attacker}"
    pages.redirect("/go", attacker)
    pages.html("/attacker", links=[pages.url("/steal", "ok.test")], app=h_app("Legit App", client_id))
    assert page_error(site, client_id, pages.url("/steal", "ok.test")) == REDIRECTED
    assert pages.hits("/attacker") == 0
    # A JSON document reached the same way, naming the URL asked for, is refused the same way.
    pages.json("/client.json", document(client_id, client_name="Legit App", redirect_uris=[pages.url("/steal")]))
    pages.redirect("/go", pages.url("/client.json"))
    assert page_error(site, client_id, pages.url("/steal")) == REDIRECTED
    assert pages.hits("/client.json") == 0
    healthy(site)


def test_a_refused_redirect_is_not_cached(site: World, pages: ClientPages) -> None:
    """Issue 21 finding 2: the refusal is an error, and errors are never cached (the page may be fixed)."""
    callback = pages.url("/cb")
    pages.set("/app/", status=301, location="/elsewhere", content_type=None, headers=[("Cache-Control", "max-age=600")])
    assert page_error(site, pages.url("/app/"), callback) == REDIRECTED
    assert page_error(site, pages.url("/app/"), callback) == REDIRECTED
    pages.html("/app/", links=[callback], headers=[("Cache-Control", "max-age=600")])
    consent(site, pages.url("/app/"), callback)
    consent(site, pages.url("/app/"), callback)
    assert pages.hits("/app/") == 3 and pages.hits("/elsewhere") == 0


def test_client_id_that_resolves_to_a_private_address(
    site: World, pages: ClientPages, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21 finding 7: the page says the host is not public; which address it has is for the log only."""
    for client_id, address in [
        (f"http://evil.test:{pages.port}/", "10.0.0.5"),
        ("https://metadata.test/latest/meta-data/", "169.254.169.254"),
    ]:
        caplog.clear()
        host = urlsplit(client_id).hostname
        response = start(site, client_id, "http://127.0.0.1/cb")
        assert response.status_code == 400 and address not in response.text
        assert page_error(site, client_id) == f"refused to connect: {host} is not a public address (SSRF protection)"
        events = [record for record in caplog.records if record.name == "sekisho.security"]
        assert events and all(event.fields["addresses"] == address for event in events)  # type: ignore[attr-defined]
    assert pages.log == []


def test_client_id_name_that_resolves_to_the_allowed_loopback(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], app=h_app("Named App", f"http://ok.test:{pages.port}/app/"))
    client_id = f"http://ok.test:{pages.port}/app/"
    page = consent(site, client_id, callback)
    assert span(page, "app-name") == "Named App"
    assert span(page, "client-host") == f"ok.test:{pages.port}"
    assert pages.log[0].headers["host"] == f"ok.test:{pages.port}"
    mixed = f"http://mixed.test:{pages.port}/app/"
    assert span(consent(site, mixed, callback), "app-name") == mixed  # the u-url names ok.test


def test_ssrf_check_on_by_default(database: str, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback])
    with url_world(database, policy=AddressPolicy()) as strict:
        assert refused(strict, pages.url("/app/"), callback) == "client_id must be an https URL"
        assert refused(strict, f"https://localhost:{pages.port}/app/", callback) == (
            "client_id must not point at this machine"
        )
        # A name is checked where it matters: at connect time, against the address it resolves to.
        assert page_error(strict, f"https://ok.test:{pages.port}/app/", callback) == (
            "refused to connect: ok.test is not a public address (SSRF protection)"
        )
        healthy(strict)
    assert pages.log == []


# ---------------------------------------------------------------- hostile pages


def test_script_in_h_app_name_is_escaped(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    name = "&lt;script&gt;alert(1)&lt;/script&gt;<b>Bold</b>\"'&amp;"
    pages.html("/app/", links=[callback], app=h_app(name, "/app/"))
    page = consent(site, pages.url("/app/"), callback)
    assert span(page, "app-name") == "<script>alert(1)</script>Bold\"'&"
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_script_in_json_name_is_escaped(site: World, pages: ClientPages) -> None:
    client_id, callback = pages.url("/client.json"), pages.url("/cb")
    name = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    pages.json("/client.json", document(client_id, client_name=name, redirect_uris=[callback]))
    page = consent(site, client_id, callback)
    assert span(page, "app-name") == name
    assert "<script>" not in page and "<img src=x" not in page


def test_script_in_the_client_id_is_escaped(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback])
    client_id = pages.url("/app/?x=<script>alert(1)</script>")
    pages.html("/app/?x=<script>alert(1)</script>", links=[callback])
    page = consent(site, client_id, callback)
    assert "<script>" not in page
    assert span(page, "client-id") == client_id


@pytest.mark.parametrize(
    "markup",
    [
        '<html><head><link rel="redirect_uri" href="{cb}"><div class="h-app"><<<>>><p class=p-name>Broken',
        "<link rel=redirect_uri href={cb}></head></html></body><body><body><table><tr><td><link",
        '<!-- <link rel="redirect_uri" href="/commented"> --><link rel="redirect_uri" href="{cb}"><!--',
        '\x00\x01<link rel="redirect_uri" href="{cb}">\ufffd\x7f<a href="\x00">',
        '<svg><link rel="redirect_uri" href="{cb}"/></svg><math><mi><link rel="redirect_uri" href="{cb}">',
        '<div class="h-app h-app h-card"><a class="u-url u-url p-name" href="">' * 50
        + '<link rel="redirect_uri" href="{cb}">',
    ],
    ids=["unclosed", "misnested", "comments", "control-chars", "foreign", "nested-h-apps"],
)
def test_malformed_html_still_yields_its_links(site: World, pages: ClientPages, markup: str) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", markup.replace("{cb}", callback))
    consent(site, pages.url("/app/"), callback)
    assert not accepted(site, pages.url("/app/"), pages.url("/commented"))


NO_REDIRECT_URI = 'the client_id page names no redirect_uri (Link header or <link rel="redirect_uri">)'
UNPARSABLE = "the client_id page could not be parsed as HTML"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100, NO_REDIRECT_URI),
        (b"<" * 20_000, NO_REDIRECT_URI),
        ("\u202e\u0000".encode() * 1000, NO_REDIRECT_URI),
        (b"", NO_REDIRECT_URI),
        (b'<link rel="redirect_uri" href="/cb">' + b"<div>" * 1500, UNPARSABLE),
    ],
    ids=["binary", "angle-brackets", "bidi", "empty", "deep-nesting"],
)
def test_garbage_html_is_a_clear_400(site: World, pages: ClientPages, body: bytes, reason: str) -> None:
    pages.set("/app/", body=body, content_type="text/html")
    assert page_error(site, pages.url("/app/")) == reason
    healthy(site)


@pytest.mark.parametrize(
    ("unit", "reason"),
    [
        ("<b><p>", None),
        ("<a>", None),
        ("<!--", None),  # the link comes before the unclosed comment
        ("<b><i>", UNPARSABLE),  # nested deeper than the microformats parser recurses
        ("<div>", UNPARSABLE),
        ("<table><tr><td>", UNPARSABLE),
    ],
    ids=["b-p", "a", "comment", "b-i", "div", "table"],
)
def test_pathological_markup_at_the_size_cap_is_answered_quickly(
    site: World, pages: ClientPages, unit: str, reason: str | None
) -> None:
    # Markup on which tree builders do quadratic fix-ups (html5lib took minutes on 32 KB of <b><p>).
    callback = pages.url("/cb")
    head = f'<link rel="redirect_uri" href="{callback}">'
    pages.html("/app/", head + unit * ((250 * 1024 - len(head)) // len(unit)))
    # CPU time of this process (the app runs in it), not wall time: a busy machine must not fail the test, while a
    # quadratic parse still shows as seconds to minutes of CPU.
    began = time.process_time()
    if reason is None:
        consent(site, pages.url("/app/"), callback)
    else:
        assert page_error(site, pages.url("/app/"), callback) == reason
    elapsed = time.process_time() - began
    # 1.5–2.7 s here on a quiet machine, 4.1 s once late in a full CI run; quadratic fix-ups cost minutes.
    assert elapsed < 8, f"the page took {elapsed:.1f} s of CPU"
    healthy(site)


def test_hundreds_of_link_elements(site: World, pages: ClientPages) -> None:
    uris = [pages.url(f"/cb/{n}") for n in range(500)]
    pages.html("/app/", links=uris, link_headers=[", ".join(f'<{uri}x>; rel="redirect_uri"' for uri in uris)])
    client_id = pages.url("/app/")
    began = time.process_time()
    assert accepted(site, client_id, uris[0] + "x")
    assert time.process_time() - began < 5  # CPU seconds, not wall time: see the test above
    # The header's first 100 come first, then the elements: 100 kept in all, so none of the elements.
    assert accepted(site, client_id, uris[99] + "x")
    assert not accepted(site, client_id, uris[100] + "x")
    assert not accepted(site, client_id, uris[0])
    healthy(site)


def test_hundreds_of_link_elements_without_header(site: World, pages: ClientPages) -> None:
    uris = [pages.url(f"/cb/{n}") for n in range(500)]
    pages.html("/app/", links=uris)
    client_id = pages.url("/app/")
    assert accepted(site, client_id, uris[0])
    assert accepted(site, client_id, uris[99])
    assert not accepted(site, client_id, uris[100])
    assert not accepted(site, client_id, uris[499])
    healthy(site)


def test_hundreds_of_h_apps(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    apps = "".join(h_app(f"Fake {n}", f"https://fake{n}.example/") for n in range(500))
    pages.html("/app/", links=[callback], app=apps + h_app("Real", "/app/"))
    page = consent(site, pages.url("/app/"), callback)
    assert span(page, "app-name") == pages.url("/app/")  # only the first 200 items are looked at
    fewer = "".join(h_app(f"Fake {n}", f"https://fake{n}.example/") for n in range(100))
    pages.html("/app2/", links=[callback], app=fewer + h_app("Real", "/app2/"))
    assert span(consent(site, pages.url("/app2/"), callback), "app-name") == "Real"  # the 101st is
    healthy(site)


# ---------------------------------------------------------------- caching


def test_errors_are_never_cached(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    client_id = pages.url("/app/")
    pages.set("/app/", status=404, body=b"", headers=[("Cache-Control", "max-age=3600")])
    assert page_error(site, client_id, callback) == f"{client_id} answered HTTP 404"
    pages.html("/app/", headers=[("Cache-Control", "max-age=3600")])  # a page, but without redirect_uri
    assert "names no redirect_uri" in page_error(site, client_id, callback)
    pages.html("/app/", links=[callback], headers=[("Cache-Control", "max-age=3600")])
    consent(site, client_id, callback)
    assert pages.hits("/app/") == 3


def test_success_cached_within_max_age(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], headers=[("Cache-Control", "public, max-age=600")])
    client_id = pages.url("/app/")
    consent(site, client_id, callback)
    consent(site, client_id, callback)
    assert pages.hits("/app/") == 1
    # The client id written another way is the same client and the same cache entry.
    consent(site, client_id + "?", callback)  # an empty query is no query
    assert pages.hits("/app/") == 1
    site.clock.advance(599)
    consent(site, client_id, callback)
    assert pages.hits("/app/") == 1
    site.clock.advance(2)
    pages.html("/app/", links=[pages.url("/new-cb")], headers=[("Cache-Control", "max-age=600")])
    assert not accepted(site, client_id, callback)  # refetched: the page changed
    assert accepted(site, client_id, pages.url("/new-cb"))
    assert pages.hits("/app/") == 2


def test_with_and_without_slash_share_one_cache_entry(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/", links=[callback], headers=[("Cache-Control", "max-age=600")])
    consent(site, pages.url(""), callback)
    consent(site, pages.url("/"), callback)
    consent(site, f"http://LOCALHOST:{pages.port}", callback)  # another host name is another client
    assert [entry.headers["host"] for entry in pages.log] == [f"127.0.0.1:{pages.port}", f"localhost:{pages.port}"]


@pytest.mark.parametrize(
    "cache_control", ["no-store", "no-cache", "private, max-age=600", "max-age=0", "no-store, max-age=600"]
)
def test_not_cached_when_the_page_says_so(site: World, pages: ClientPages, cache_control: str) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], headers=[("Cache-Control", cache_control)])
    consent(site, pages.url("/app/"), callback)
    consent(site, pages.url("/app/"), callback)
    assert pages.hits("/app/") == 2


def test_expires_in_the_past_is_not_cached(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], headers=[("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")])
    consent(site, pages.url("/app/"), callback)
    consent(site, pages.url("/app/"), callback)
    assert pages.hits("/app/") == 2


def test_without_caching_headers_a_short_default(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback])
    consent(site, pages.url("/app/"), callback)
    consent(site, pages.url("/app/"), callback)
    assert pages.hits("/app/") == 1
    site.clock.advance(301)
    consent(site, pages.url("/app/"), callback)
    assert pages.hits("/app/") == 2


def test_max_age_is_bounded(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], headers=[("Cache-Control", "max-age=999999999")])
    consent(site, pages.url("/app/"), callback)
    site.clock.advance(24 * 3600 + 1)
    consent(site, pages.url("/app/"), callback)
    assert pages.hits("/app/") == 2


def test_the_token_endpoint_never_fetches(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback], headers=[("Cache-Control", "no-store")])
    client_id = pages.url("/app/")
    location, verifier = allow(site, client_id, callback)
    fetched = pages.hits("/app/")
    pages.set("/app/", status=500)  # the page is down by the time the client exchanges its code
    code = parse_qs(urlsplit(location).query)["code"][0]
    token(site, client_id, code, verifier, callback)
    assert pages.hits("/app/") == fetched


# ---------------------------------------------------------------- the same string at authorize and at token


@pytest.mark.parametrize("path", ["", "/", "/app", "/app/"])
def test_same_string_at_authorize_and_token_succeeds(site: World, pages: ClientPages, path: str) -> None:
    """Misskey issue 16538: normalisation must never make a client's own, unchanged client_id fail."""
    callback = pages.url("/cb")
    pages.html(path or "/", links=[callback])
    full_flow(site, pages.url(path), callback)


@pytest.mark.parametrize(
    ("at_authorize", "at_token"),
    [
        ("http://127.0.0.1:{port}", "http://127.0.0.1:{port}/"),
        ("http://127.0.0.1:{port}/", "http://127.0.0.1:{port}"),
        ("http://LocalHost:{port}", "http://localhost:{port}/"),
        ("http://localhost:{port}/", "http://LOCALHOST:{port}"),
        ("http://localhost:{port}/?", "http://localhost:{port}"),
    ],
)
def test_spellings_of_one_client_id_are_one_client(
    site: World, pages: ClientPages, at_authorize: str, at_token: str
) -> None:
    callback = pages.url("/cb")
    pages.html("/", links=[callback])
    full_flow(site, at_authorize.format(port=pages.port), callback, at_token.format(port=pages.port))


def test_another_client_id_cannot_redeem_the_code(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/a/", links=[callback])
    pages.html("/b/", links=[callback])
    location, verifier = allow(site, pages.url("/a/"), callback)
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = site.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": callback,
            "client_id": pages.url("/b/"),
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_url_client_has_no_secret(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback])
    location, verifier = allow(site, pages.url("/app/"), callback)
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = site.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": callback,
            "client_id": pages.url("/app/"),
            "client_secret": "guess",
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("https://app.example/#x", "client_id must not have a fragment"),
        ("https://u:p@app.example/", "client_id must not contain a user name or password"),
        ("https://app.example/a/../b", "client_id must not contain . or .. path segments"),
        ("https://10.0.0.1/", "client_id must use a domain name, not an IP address"),
        ("http://127.0.0.2/", "client_id must use a domain name, not an IP address"),
        ("https://app.example\\evil/", "client_id must not contain spaces, control characters or backslashes"),
        ("https://app.example:99999/", "client_id is not a valid URL"),
    ],
)
def test_bad_client_id_syntax_at_authorize(site: World, client_id: str, reason: str) -> None:
    assert refused(site, client_id, "https://app.example/cb") == reason


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("https://☃.example/", "a URL on the way is not a valid URL (Invalid IDNA hostname: '☃.example')"),
        ("https://xn--.example/", "a URL on the way is not a valid URL (Malformed A-label"),
        ("https://a..b.example/", "a..b.example could not be reached (ConnectError)"),
        ("https://app.example%2f.evil/", "app.example%2f.evil could not be reached (ConnectError)"),
    ],
)
def test_odd_host_names_at_authorize(site: World, client_id: str, reason: str) -> None:
    assert page_error(site, client_id, "https://app.example/cb").startswith(reason)


def test_upper_case_scheme_is_the_same_url_client(site: World, pages: ClientPages) -> None:
    # Schemes are case-insensitive (RFC 3986 §3.1): HTTP:// names the same client, at both endpoints.
    callback = pages.url("/cb")
    pages.html("/", links=[callback])
    full_flow(site, f"HTTP://127.0.0.1:{pages.port}/", callback)
    full_flow(site, f"HTTP://127.0.0.1:{pages.port}/", callback, f"http://127.0.0.1:{pages.port}/")


def test_url_client_ids_at_the_token_endpoint_obey_the_syntax(site: World) -> None:
    for client_id in ("https://app.example/#x", "https://10.0.0.1/", "ftp://app.example/"):
        response = site.http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": "x", "code_verifier": "v" * 43, "client_id": client_id},
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"


def test_user_agent_names_sekisho(site: World, pages: ClientPages) -> None:
    callback = pages.url("/cb")
    pages.html("/app/", links=[callback])
    consent(site, pages.url("/app/"), callback)
    (entry,) = pages.log
    assert entry.headers["user-agent"] == f"sekisho/{__version__} (+{ISSUER}/)"
    assert entry.headers["accept-encoding"] == "identity"
    assert entry.headers["accept"].startswith("text/html")
    assert "cookie" not in entry.headers and "authorization" not in entry.headers
