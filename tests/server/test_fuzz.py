"""Property-based fuzzing of every route of the app: whatever comes in, the answer is a 2xx, 3xx or 4xx in the
route's own shape, a redirect never leaves for a place no client registered, and nothing is ever a 5xx.

Shapes: RFC 6749 §5.2 `{"error", "error_description"?}` for the OAuth endpoints (and for the router's own 404/405
anywhere), Misskey's `{"error": {"message", "code", "id", "kind"}}` under /api/, X's problem
`{"title", "type", "status", "detail"}` under /2/, HTML pages with the framing headers for what a person sees.

Worlds: `fz` (SQLite; alice signed in; a URL client whose pages a loopback server plays) for almost everything;
`accounts` (SQLite, JWT access tokens, --demo) for /login and /logout, which change who is signed in and would
get the shared world's address throttled; `pg`, the same as `fz` on PostgreSQL, runs a sample of the cases.
Sizes: tests/fuzz.py (`SEKISHO_FUZZ_CASES`).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import re
import secrets
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx2 as httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.routing import Mount, Route

from sekisho.protocol.pkce import s256
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.fetch import AddressPolicy
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.client_pages import PNG, ClientPages
from tests.conftest import ISSUER, PASSWORD, REDIRECT_URI, TEMPLATE, Registered, World, csrf_of, make_world
from tests.fuzz import fuzz

Response = httpx.Response
Items = list[tuple[str | bytes, str | bytes]]

# ---------------------------------------------------------------- the routes, and what each answers

ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("OPTIONS", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/oauth-protected-resource"),  # the demo API's (RFC 9728, issue 25)
        ("GET", "/oauth/authorize"),
        ("POST", "/oauth/authorize"),
        ("POST", "/oauth/token"),
        ("OPTIONS", "/oauth/token"),
        ("POST", "/oauth/revoke"),
        ("OPTIONS", "/oauth/revoke"),
        ("POST", "/oauth/introspect"),
        ("GET", "/oauth/jwks"),
        ("OPTIONS", "/oauth/jwks"),
        ("POST", "/oauth/register"),  # the fuzzed worlds serve `--registration open`
        ("OPTIONS", "/oauth/register"),
        ("POST", "/oauth/device_authorization"),
        ("OPTIONS", "/oauth/device_authorization"),
        ("POST", "/oauth/par"),
        ("OPTIONS", "/oauth/par"),
        ("GET", "/device"),
        ("POST", "/device"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/settings/apps"),
        ("POST", "/settings/apps/revoke"),
        ("GET", "/@{username}"),
        ("GET", "/demo/callback"),
        ("GET", "/miauth/{session}"),
        ("POST", "/miauth/{session}"),
        ("POST", "/api/miauth/{session}/check"),
        ("POST", "/api/i"),
        ("POST", "/api/notes/create"),
        ("POST", "/api/notes/show"),
        ("POST", "/api/notes/delete"),
        ("POST", "/api/meta"),
        ("POST", "/api/notes/timeline"),
        ("POST", "/api/notes/local-timeline"),
        ("POST", "/api/users/show"),
        ("POST", "/api/users/notes"),
        ("GET", "/2/users/me"),
        ("GET", "/2/users/{id}"),
        ("GET", "/2/users/{id}/tweets"),
        ("POST", "/2/tweets"),
        ("GET", "/2/tweets"),
        ("GET", "/2/tweets/{id}"),
        ("DELETE", "/2/tweets/{id}"),
        ("GET", "/static/{file}"),
        ("GET", "/favicon.ico"),
    }
)
POST_ROUTES = sorted(path for method, path in ROUTES if method == "POST")
GET_ROUTES = sorted(path for method, path in ROUTES if method == "GET")

RFC_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "unsupported_response_type",
        "invalid_scope",
        "access_denied",
        "unsupported_token_type",
        "invalid_token",
        "insufficient_scope",
        "not_found",  # the router's 404, in the same shape
        "invalid_redirect_uri",  # RFC 7591 §3.2.2
        "invalid_client_metadata",
    }
)
# RFC 6749 §5.2: error and error_description are %x20-21 / %x23-5B / %x5D-7E (no `"` and no `\`).
NQSCHAR = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def kind_of(path: str) -> str:
    """Which shape the route answers in."""
    if path.startswith("/oauth/authorize"):
        return "page"
    if path.startswith(("/oauth/", "/.well-known/")):
        return "oauth"
    if path.startswith("/api/miauth/"):
        return "miauth_check"
    if path.startswith("/api/"):
        return "misskey"
    if path.startswith("/2/"):
        return "x"
    if path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/favicon.ico") or path.startswith("/static/"):
        return "plain"
    return "page"


def is_rfc_error(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and set(body) <= {"error", "error_description", "error_uri"}
        and body.get("error") in RFC_ERRORS
        and isinstance(body.get("error_description", ""), str)
        and bool(NQSCHAR.fullmatch(body.get("error_description", "")))
    )


def is_misskey_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and set(body) == {"error"}
        and set(error) == {"message", "code", "id", "kind"}
        and all(isinstance(value, str) and value for value in error.values())
    )


def is_x_problem(body: Any, status: int) -> bool:
    """X's problem body; a 400 for a parameter also lists it in `errors` (issue 23)."""
    return (
        isinstance(body, dict)
        and set(body) - {"errors"} == {"title", "type", "status", "detail"}
        and body["status"] == status
        and all(isinstance(body[name], str) for name in ("title", "type", "detail"))
        and isinstance(body.get("errors", []), list)
    )


def check_page_headers(response: Response) -> None:
    assert response.headers.get("x-frame-options") == "DENY", response.headers
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), response.headers
    assert response.headers.get("referrer-policy") == "no-referrer", response.headers


def loopback_any_port(uri: str) -> str:
    """RFC 8252 §7.3: for http on 127.0.0.1 or [::1] only the port may vary; elsewhere the URI stays as it is."""
    return re.sub(r"^http://(127\.0\.0\.1|\[::1\])(:\d+)?(?=[/?]|$)", r"http://\1", uri)


def check_location(location: str, allowed: tuple[str, ...]) -> None:
    """A redirect goes to this site (a path, never `//host` or `/\\host`) or to one of the `allowed` URIs."""
    if location.startswith(ISSUER + "/"):  # Starlette's redirect to the path with(out) its trailing slash
        location = location[len(ISSUER) :]
    if location.startswith("/"):
        cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")  # what browsers make of it
        assert not cleaned.startswith("//"), location
        assert not urlsplit(cleaned).netloc, location
        return
    here = loopback_any_port(location)
    for uri in allowed:
        there = loopback_any_port(uri)
        if here == there or here.startswith(there + ("&" if "?" in there else "?")):
            return
    raise AssertionError(f"redirect to {location!r}, which nobody registered ({allowed})")


def browser_asked(request: Any) -> bool:
    """`text/html` in Accept, and not after `application/json`: what a browser sends."""
    return "text/html" in request.headers.get("accept", "").split("application/json")[0]


def check_response(response: Response, path: str, allowed: tuple[str, ...] = ()) -> None:
    """Never a 5xx; the route's shape for errors; redirects only here or to `allowed`."""
    status = response.status_code
    request = response.request
    assert 200 <= status < 500, (request.method, str(request.url), status, response.text[:2000])
    client_auth_paths = (
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/register",
        "/oauth/device_authorization",
        "/oauth/par",
    )
    if path in client_auth_paths and request.method == "POST":
        assert "no-store" in response.headers.get("cache-control", ""), response.headers
    if request.method == "HEAD":
        return
    content_type = response.headers.get("content-type", "")
    kind = kind_of(path)
    if 300 <= status < 400:
        check_location(response.headers["location"], allowed)
        return
    if content_type.startswith("text/html"):
        # a page, or the 404/405 page of any route for a browser (issue 24: never raw JSON to a browser)
        assert kind == "page" or (status in (404, 405) and browser_asked(request)), (path, status, content_type)
        check_page_headers(response)
        return
    if status < 400:
        return
    assert content_type.startswith("application/json"), (path, status, content_type, response.text[:500])
    body = response.json()
    if kind == "misskey" and (status not in (404, 405) or is_misskey_error(body)):  # users/show: NO_SUCH_USER 404
        assert is_misskey_error(body), (path, status, body)
        assert status != 401 or response.headers.get("www-authenticate", "").startswith("Bearer "), response.headers
    elif kind == "x" and not (status in (404, 405) and "error" in body):
        assert is_x_problem(body, status), (path, status, body)
        assert status != 401 or response.headers.get("www-authenticate", "").startswith("Bearer "), response.headers
    else:
        assert is_rfc_error(body), (path, status, body)


# ---------------------------------------------------------------- the worlds


VERIFIER = "fuzz-" + "v" * 60
CHALLENGE = s256(VERIFIER)
NARROW_URI = "https://narrow.example/cb?mode=web"
URL_APP_URI = "https://url-app.example/cb"
MIAUTH_CALLBACK = "https://app.example/miauth/done?from=fuzz"
LOOPBACK_ONLY = AddressPolicy(also_allowed=(ipaddress.ip_network("127.0.0.1/32"),))
SCOPES = [
    "read:account write:notes",
    "read:account",
    "tweet.read tweet.write users.read offline.access",
    "write:notes write:notes",
    "admin",
    "read:account admin",
    "openid",
    "",
    " ",
    "read:account\twrite:notes",
]
GRANT_TYPES = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
    "AUTHORIZATION_CODE",
]


async def no_dns(host: str, port: int) -> list[str]:
    """Every name is unknown, at once: no fuzzed client_id ever waits on a real DNS look-up."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@dataclass
class Fuzz:
    """A world to fuzz, the clients in it, and the browser state (alice's session, a CSRF token) to send."""

    world: World
    machine: Registered  # confidential, client_credentials only
    narrow: Registered  # public; a redirect URI with a query and [::1]; scopes limited
    url_client: str  # a URL client id: its page (on 127.0.0.1) names URL_APP_URI
    pages: ClientPages
    csrf: str = ""
    baseline: httpx.Cookies = field(default_factory=httpx.Cookies)
    notes: list[str] = field(default_factory=list)
    minted: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # forgotten by whatever revokes
    strategies: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    device_app: str | None = None  # a public app with the device grant, registered when a case first needs it
    user_codes: list[str] = field(default_factory=list)

    @property
    def http(self) -> Any:
        return self.world.http

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return (REDIRECT_URI, "http://127.0.0.1/cb", NARROW_URI, "http://[::1]/cb", URL_APP_URI)

    @property
    def clients(self) -> dict[str, str]:
        w = self.world
        return {
            "public": w.public.client_id,
            "confidential": w.confidential.client_id,
            "resource": w.resource_server.client_id,
            "machine": self.machine.client_id,
            "narrow": self.narrow.client_id,
            "url": self.url_client,
        }

    @contextmanager
    def browser(self) -> Iterator[None]:
        """Requests with alice's cookies; whatever a response sets is forgotten afterwards."""
        self.http.cookies = httpx.Cookies(self.baseline)
        try:
            yield
        finally:
            self.http.cookies = httpx.Cookies(self.baseline)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, Any] | None = None,
        content: bytes | None = None,
        allowed: tuple[str, ...] = (),
    ) -> Response:
        headers = {name: _header_value(value) for name, value in (headers or {}).items()}
        with self.browser():
            response: Response = self.http.request(
                method, url, headers=headers, content=content, follow_redirects=False
            )
        check_response(response, urlsplit(url).path, allowed or self.redirect_uris)
        return response

    # minting real codes and tokens, outside the fuzzed request (so never checked as one)

    def code(self, client: str = "public", scope: str = "read:account write:notes") -> tuple[str, str]:
        uri = NARROW_URI if client == "narrow" else REDIRECT_URI
        with self.browser():
            return self.world.code(self.clients[client], redirect_uri=uri, scope=scope)

    def tokens(self, client: str = "public", scope: str = "read:account write:notes") -> dict[str, Any]:
        code, verifier = self.code(client, scope)
        registered = {"public": self.world.public, "confidential": self.world.confidential, "narrow": self.narrow}
        extra = {"redirect_uri": NARROW_URI} if client == "narrow" else {}
        with self.browser():
            return self.world.exchange(code, verifier, registered[client], **extra)

    def access_token(self, client: str = "public", scope: str = "read:account write:notes") -> str:
        """A valid access token, minted once and reused until a case that revokes tokens forgets them all."""
        if (client, scope) not in self.minted:
            self.minted[client, scope] = self.tokens(client, scope)
        return str(self.minted[client, scope]["access_token"])

    def note(self, token: str) -> str:
        with self.browser():
            response = self.http.post(
                "/api/notes/create", json={"text": "fuzz"}, headers={"authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text
        note_id: str = response.json()["createdNote"]["id"]
        self.notes.append(note_id)
        return note_id

    def device_code(self, fresh: bool) -> str:
        """A user code the device app asked for: a new one, or the last one (decided by now, perhaps)."""
        if self.device_app is None:
            self.device_app = asyncio.run(_register_device_app(self.world.database))
        if fresh or not self.user_codes:
            with self.browser():
                answer = self.http.post(
                    "/oauth/device_authorization", data={"client_id": self.device_app, "scope": "read:account"}
                )
            assert answer.status_code == 200, answer.text
            self.user_codes.append(answer.json()["user_code"])
        return self.user_codes[-1]


async def _register_device_app(database: str) -> str:
    store = await SqlStore.open(database)
    try:
        grants = ["urn:ietf:params:oauth:grant-type:device_code"]
        app, _ = await register_client(
            store, name="TV", redirect_uris=[], public=True, scope=None, grant_types=grants,
            known_scopes=DEFAULT_SCOPES, now=1_700_000_000,
        )  # fmt: skip
        return app.client_id
    finally:
        await store.close()


def _header_value(value: str | bytes) -> bytes:
    """As a server would pass it on: any byte but NUL, CR and LF (which no HTTP parser lets through)."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    return raw.replace(b"\x00", b" ").replace(b"\r", b" ").replace(b"\n", b" ")


async def _register_more(database: str) -> tuple[Registered, Registered]:
    store = await SqlStore.open(database)
    try:
        machine, secret = await register_client(
            store,
            name="Machine",
            redirect_uris=[],
            public=False,
            scope=None,
            grant_types=["client_credentials"],
            known_scopes=DEFAULT_SCOPES,
            now=1_700_000_000,
        )
        narrow, _ = await register_client(
            store,
            name='Narrow <b>App</b> "quoted"',
            redirect_uris=[NARROW_URI, "http://[::1]/cb"],
            public=True,
            scope="read:account write:notes tweet.read",
            grant_types=[],
            known_scopes=DEFAULT_SCOPES,
            now=1_700_000_000,
        )
        return Registered(machine.client_id, secret), Registered(narrow.client_id, None)
    finally:
        await store.close()


# the fuzzers send everything from one address: no per-address limit may answer in place of the route
UNLIMITED: dict[str, Any] = {"registration_limit": 10**6, "device_authorization_limit": 10**6, "par_limit": 10**6}


@contextmanager
def fuzz_world(database: str, settings: Settings | None = None) -> Iterator[Fuzz]:
    settings = settings or Settings(issuer=ISSUER, database=database, registration="open", **UNLIMITED)
    with ClientPages() as pages, make_world(database, settings, address_policy=LOOPBACK_ONLY, resolver=no_dns) as w:
        url_client = pages.url("/app/")
        pages.html(
            "/app/",
            links=[URL_APP_URI],
            app=f'<div class="h-app"><a class="u-url p-name" href="{url_client}">URL App</a>'
            f'<img class="u-logo" src="{pages.url("/logo.png")}"></div>',
        )
        pages.set("/logo.png", body=PNG, content_type="image/png")
        pages.json("/doc.json", json.dumps({"client_id": pages.url("/doc.json"), "redirect_uris": [URL_APP_URI]}))
        machine, narrow = asyncio.run(_register_more(database))
        w.login()
        running = Fuzz(w, machine, narrow, url_client, pages)
        running.csrf = csrf_of(w.http.get("/login").text)
        running.baseline = httpx.Cookies(w.http.cookies)
        token = running.tokens()["access_token"]
        for _ in range(3):
            running.note(str(token))
        yield running


@pytest.fixture(scope="module")
def fz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    with fuzz_world(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}") as running:
        yield running


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    database = f"sqlite:///{tmp_path_factory.mktemp('fuzz-accounts') / 'fuzz.db'}"
    settings = Settings(
        issuer=ISSUER, database=database, access_token_format="jwt", demo=True, registration="token", **UNLIMITED
    )
    with fuzz_world(database, settings) as running:
        yield running


@pytest.fixture(scope="module")
def pg(postgres: Any, request: pytest.FixtureRequest) -> Iterator[Fuzz]:
    name = f"fuzz_{secrets.token_hex(3)}"
    url = postgres.create_database(name, template=TEMPLATE)
    request.addfinalizer(lambda: postgres.drop_database(name))
    with fuzz_world(url) as running:
        yield running


# ---------------------------------------------------------------- strategies

FIELDS = [
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id", "client_secret",
    "token", "token_type_hint", "response_type", "state", "code_challenge", "code_challenge_method", "decision",
    "csrf_token", "username", "password", "next", "i", "text", "noteId", "name", "callback", "permission", "icon",
    "visibility", "cw", "resource", "nonce", "prompt", "response_mode", "request", "request_uri",
    "redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "client_name", "logo_uri",
]  # fmt: skip
ODD = [
    "", " ", "\x00", "%00", "%zz", "\u202e", "\U0001f600", "null", "[]", "{}", "-1", "1e999", "0x10", "é",
    "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "http://evil.test/", "//evil.test",
    "/\\evil.test", "javascript:alert(1)", "a" * 9000,
]  # fmt: skip
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(ODD), st.text(st.characters(codec="ascii"), max_size=20))


def per_world(build: Callable[..., Any]) -> Callable[..., Any]:
    """The strategy `build(fz, *args)`, built once per world: building one costs more than drawing from it."""

    def cached(fz: Fuzz, *args: Any) -> Any:
        key = (build.__name__, *args)
        if key not in fz.strategies:
            fz.strategies[key] = build(fz, *args)
        return fz.strategies[key]

    return cached


@per_world
def values(fz: Fuzz) -> st.SearchStrategy[str]:
    """Strings that mean something to this world, and strings that do not."""
    known = [
        *fz.clients.values(),
        fz.url_client.upper(),
        fz.pages.url("/doc.json"),
        fz.pages.url("/missing"),
        "https://unknown.test/app",
        *fz.redirect_uris,
        "http://127.0.0.1:5555/cb",
        "http://localhost/cb",
        REDIRECT_URI + "/",
        REDIRECT_URI.upper(),
        REDIRECT_URI + "#x",
        "https://app.example@evil.test/callback",
        *SCOPES,
        *GRANT_TYPES,
        VERIFIER,
        CHALLENGE,
        "S256",
        "plain",
        "code",
        "token",
        "code id_token",
        "allow",
        "deny",
        fz.csrf,
        "alice",
        PASSWORD,
        "sek_at_" + "A" * 43,
        "sek_rt_" + "A" * 43,
        "sek_ac_" + "A" * 43,
        *fz.notes,
    ]
    return st.one_of(st.sampled_from(known), TEXT)


@per_world
def form_values(fz: Fuzz) -> st.SearchStrategy[str | bytes]:
    return st.one_of(values(fz), st.binary(max_size=24))  # bytes: percent-encoded as they are, UTF-8 or not


@per_world
def items(fz: Fuzz, max_size: int = 8) -> st.SearchStrategy[Items]:
    names: st.SearchStrategy[str | bytes] = st.one_of(st.sampled_from(FIELDS), TEXT, st.binary(max_size=8))
    return st.lists(st.tuples(names, form_values(fz)), max_size=max_size)  # type: ignore[arg-type]


def encode(pairs: Items, style: str) -> tuple[bytes, str]:
    """The body and its Content-Type: a form, a JSON object (duplicate members kept as sent), or a query string."""
    if style == "json":
        members = [
            f"{json.dumps(name)}:{json.dumps(value)}"
            for name, value in pairs
            if isinstance(name, str) and isinstance(value, str)
        ]
        return ("{" + ",".join(members) + "}").encode(), "application/json"
    return urlencode(pairs).encode("ascii"), "application/x-www-form-urlencoded"


def query(pairs: Items) -> str:
    return urlencode(pairs)


def basic(client_id: str, secret: str) -> str:
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


@per_world
def authorization_headers(fz: Fuzz, bearer: str | None = None) -> st.SearchStrategy[str | bytes | None]:
    """Authorization values: real Basic credentials, wrong ones, Bearer tokens, and junk (bytes: not even UTF-8)."""
    w = fz.world
    real = [
        basic(w.confidential.client_id, str(w.confidential.client_secret)),
        basic(w.resource_server.client_id, str(w.resource_server.client_secret)),
        basic(fz.machine.client_id, str(fz.machine.client_secret)),
        basic(w.confidential.client_id, "wrong"),
        basic(w.public.client_id, ""),
        basic("", "x"),
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(),
        "Basic " + base64.b64encode(b"a\x00b:x").decode(),
        basic("a\x00b", "x"),
        "Basic !!!",
        "Basic",
        "basic " + base64.b64encode(f"{w.public.client_id}:".encode()).decode(),
        "Bearer",
        "Bearer ",
        "Bearer sek_at_" + "A" * 43,
        "Bearer " + "a" * 5000,
        "Bearer a b",
        "Bearer é",
        "Negotiate abc",
        "",
    ]
    if bearer:
        real += [f"Bearer {bearer}", f"bearer {bearer}", f"BEARER  {bearer} ", f"Bearer {bearer}x"]
    junk = st.binary(max_size=40).filter(lambda raw: not set(raw) & {0, 10, 13})
    return st.one_of(st.none(), st.sampled_from(real), st.text(st.characters(codec="latin-1"), max_size=40), junk)


CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/x-www-form-urlencoded;charset=latin-1",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "APPLICATION/JSON",
    "application/merge-patch+json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    ";",
    "application/json; charset=\xff",
]
content_types: st.SearchStrategy[str | None] = st.one_of(
    st.none(), st.sampled_from(CONTENT_TYPES), st.text(st.characters(codec="latin-1"), max_size=30)
)


@per_world
def cookies(fz: Fuzz) -> st.SearchStrategy[str | bytes | None]:
    """A Cookie header instead of alice's (None: alice's cookies)."""
    csrf = fz.baseline.get("sekisho_csrf") or ""
    session = fz.baseline.get("sekisho_session") or ""
    real = [
        f"sekisho_csrf={csrf}",
        f"sekisho_session={session}; sekisho_csrf={csrf}",
        f"sekisho_session={session}; sekisho_session=sek_ss_x; sekisho_csrf={csrf}",
        "sekisho_session=sek_ss_" + "A" * 43,
        "sekisho_session=sek_ss_" + "A" * 200,
        "sekisho_session=" + session.upper(),
        f"sekisho_csrf={csrf}x",
        'sekisho_csrf="quoted"; =; ;;',
        "x" * 5000,
    ]
    junk = st.binary(max_size=60).filter(lambda raw: not set(raw) & {0, 10, 13})
    return st.one_of(st.none(), st.sampled_from(real), st.text(st.characters(codec="latin-1"), max_size=60), junk)


ACCEPTS = [None, "application/json", "text/html", "application/json, text/html", "text/html;q=0.1, application/json"]


@per_world
def header_sets(fz: Fuzz, bearer: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "authorization": authorization_headers(fz, bearer),
            "content-type": content_types,
            "cookie": cookies(fz),
            "accept": st.sampled_from(ACCEPTS),
        }
    ).map(lambda found: {name: value for name, value in found.items() if value is not None})


RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    st.just(b"x=" + b"y" * 70_000),  # over the 64 KiB cap
    st.just(b"[" * 100_000 + b"]" * 100_000),  # deeper than any JSON parser's recursion
    st.just(b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
    st.just(b"\xef\xbb\xbf{}"),  # a UTF-8 byte order mark
    st.just(b'{"i": "\\ud800"}'),  # a lone surrogate
    st.just("{}".encode("utf-16")),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def concrete(fz: Fuzz, path: str) -> str:
    """A template's path with its parameter filled in."""
    return (
        path.replace("{username}", "alice")
        .replace("{session}", str(uuid.uuid4()))
        .replace("{id}", fz.notes[0])
        .replace("{file}", "sekisho.css")
    )


# ---------------------------------------------------------------- the cases, each one example of one route


NASTY_PATHS = [
    "/static/..%2f..%2fpyproject.toml", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/%00", "/static/", "/@%00",
    "/@", "/2/tweets/%ff", "/2/tweets/", "/miauth/%0a%0d", "/miauth/", "/api/miauth/%ff/check", "/oauth/token/",
    "//oauth/token", "/oauth/authorize/..", "/%2e%2e/", "/@alice/../../", "/settings/apps/revoke/",
]  # fmt: skip


def case_any_path(fz: Fuzz, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        fz.send(data.draw(st.sampled_from(["GET", "POST"])), data.draw(st.sampled_from(NASTY_PATHS)))
        return
    prefix = data.draw(st.sampled_from(["/", "/@", "/static/", "/2/tweets/", "/miauth/", "/oauth/", "/api/", "/%2e"]))
    rest = data.draw(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40))
    method = data.draw(st.sampled_from(["GET", "POST"]))
    path = prefix + quote(rest, safe="/@:+,;=")
    fz.send(method, path + "?" + query(data.draw(items(fz, 3))))


def case_any_method(fz: Fuzz, data: st.DataObject) -> None:
    _, path = data.draw(st.sampled_from(sorted(ROUTES)))
    method = data.draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO"]))
    response = fz.send(method, concrete(fz, path), headers=data.draw(header_sets(fz)))
    if (method, path) not in ROUTES and not (method == "HEAD" and ("GET", path) in ROUTES):
        assert response.status_code in (400, 401, 403, 404, 405), (method, path, response.status_code)


def case_get_pages(fz: Fuzz, data: st.DataObject) -> None:
    path = concrete(fz, data.draw(st.sampled_from(GET_ROUTES)))
    if path.startswith(("/2/", "/miauth/", "/oauth/authorize")):
        path = "/healthz"  # their own cases fuzz them
    pairs = data.draw(items(fz, 4))
    headers = data.draw(header_sets(fz))
    response = fz.send("GET", path + ("?" + query(pairs) if pairs else ""), headers=headers)
    if path in ("/healthz", "/readyz", "/openapi.json", "/.well-known/oauth-authorization-server"):
        assert response.status_code == 200, response.text
    if path == "/metrics":  # for loopback peers only, and the fuzzer's is "testclient" (issue 21)
        assert response.status_code == 404, response.text
    if path in ("/.well-known/oauth-authorization-server", "/oauth/jwks"):
        assert response.headers["access-control-allow-origin"] == "*"
        body = response.json()
        assert body["issuer"] == ISSUER if "issuer" in body else isinstance(body["keys"], list)
    if path == "/.well-known/oauth-protected-resource":
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
        assert response.json()["resource"] == ISSUER


def case_cors_preflight(fz: Fuzz, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(sorted(path for method, path in ROUTES if method == "OPTIONS")))
    headers = data.draw(header_sets(fz))
    headers["origin"] = data.draw(st.sampled_from(["https://evil.test", "null", "", "http://testserver"]))
    headers["access-control-request-method"] = data.draw(st.sampled_from(["POST", "GET", "DELETE", "\x7f"]))
    response = fz.send("OPTIONS", path, headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"


def case_token(fz: Fuzz, data: st.DataObject) -> None:
    """The token endpoint with real clients, codes, verifiers and refresh tokens, each right or wrong."""
    w = fz.world
    who = data.draw(st.sampled_from(["public", "confidential", "narrow", "machine", "url", "resource", "unknown"]))
    grant = data.draw(st.sampled_from([*GRANT_TYPES, None]) | TEXT)
    secret = {"confidential": w.confidential.client_secret, "machine": fz.machine.client_secret}.get(who)
    secret = secret or {"resource": w.resource_server.client_secret}.get(who)
    client_id = fz.clients.get(who, "unknown-client")
    issued_code = who in ("public", "confidential", "narrow")
    code_kind = data.draw(st.sampled_from(["fresh", "other", "random", "none"] if issued_code else ["random", "none"]))
    code, verifier = fz.code(who) if code_kind == "fresh" else ("sek_ac_" + secrets.token_urlsafe(32), VERIFIER)
    if code_kind == "other":
        code, verifier = fz.code("confidential" if who == "public" else "public")
    refresh_kind = data.draw(st.sampled_from(["fresh", "random", "none"] if issued_code else ["random", "none"]))
    refresh = fz.tokens(who).get("refresh_token") if refresh_kind == "fresh" else None
    right_uri = NARROW_URI if who == "narrow" else REDIRECT_URI
    pairs: Items = [] if grant is None else [("grant_type", grant)]
    choices = {
        "code": {"right": code, "random": data.draw(values(fz))},
        "code_verifier": {"right": verifier, "random": data.draw(values(fz))},
        "redirect_uri": {"right": right_uri, "random": data.draw(values(fz))},
        "refresh_token": {"right": str(refresh or "sek_rt_" + secrets.token_urlsafe(32)), "random": "sek_rt_x"},
        "scope": {"random": data.draw(st.sampled_from(SCOPES) | TEXT)},
    }
    for name, options in choices.items():
        pick = data.draw(st.sampled_from([*options, "none"]))
        if pick != "none":
            pairs.append((name, options[pick]))
    headers: dict[str, Any] = {}
    auth = data.draw(st.sampled_from(["basic", "post", "both", "id only", "wrong secret", "none", "header junk"]))
    if auth in ("basic", "both") and secret:
        headers["authorization"] = basic(client_id, secret)
    if auth in ("post", "both", "id only") or (auth == "basic" and not secret):
        pairs.append(("client_id", client_id))
    if auth in ("post", "both") and secret:
        pairs.append(("client_secret", secret))
    if auth == "wrong secret":
        headers["authorization"] = basic(client_id, "sek_cs_wrong")
    if auth == "header junk":
        headers["authorization"] = data.draw(authorization_headers(fz))
    extra = data.draw(st.one_of(st.just([]), items(fz, 3)))
    pairs = data.draw(st.permutations(pairs + extra))
    style = data.draw(st.sampled_from(["form", "json"]))
    body, content_type = encode(pairs, style)
    headers["content-type"] = content_type
    headers = {name: value for name, value in headers.items() if value is not None}
    response = fz.send("POST", "/oauth/token", headers=headers, content=body)
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    answer = response.json()
    if response.status_code == 200:
        assert answer["token_type"] == "Bearer" and isinstance(answer["access_token"], str), answer
        assert isinstance(answer["expires_in"], int) and isinstance(answer["scope"], str), answer
        if grant == "authorization_code":  # RFC 6749 §4.1.2: a code is used once
            replay = fz.send("POST", "/oauth/token", headers=headers, content=body)
            assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text
        return
    assert response.status_code == (401 if answer.get("error") == "invalid_client" else 400), (answer, pairs)
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")
    everything_right = (
        grant == "authorization_code"
        and code_kind == "fresh"
        and not extra
        and auth in ("basic", "post", "id only")
        and (auth != "id only" or not secret)
        and {("code", code), ("code_verifier", verifier), ("redirect_uri", right_uri)} <= set(pairs)
        and not any(name == "scope" for name, _ in pairs)
    )
    assert not everything_right, f"a correct code exchange was refused: {answer}"


def case_token_params(fz: Fuzz, data: st.DataObject) -> None:
    pairs = data.draw(items(fz))
    body, content_type = encode(pairs, data.draw(st.sampled_from(["form", "json"])))
    headers = data.draw(header_sets(fz))
    headers.setdefault("content-type", content_type)
    fz.send("POST", "/oauth/token", headers=headers, content=body)


def _caller(fz: Fuzz, data: st.DataObject, pairs: Items) -> dict[str, Any]:
    w = fz.world
    caller = data.draw(
        st.sampled_from(["confidential", "resource", "machine", "public", "post", "wrong", "none", "junk"])
    )
    secrets_of = {
        "confidential": w.confidential,
        "resource": w.resource_server,
        "machine": fz.machine,
    }
    if caller in secrets_of:
        registered = secrets_of[caller]
        return {"authorization": basic(registered.client_id, str(registered.client_secret))}
    if caller == "public":
        pairs.append(("client_id", w.public.client_id))
    if caller == "post":
        pairs += [("client_id", w.confidential.client_id), ("client_secret", str(w.confidential.client_secret))]
    if caller == "wrong":
        return {"authorization": basic(w.resource_server.client_id, "sek_cs_wrong")}
    if caller == "junk":
        junk = data.draw(authorization_headers(fz))
        return {} if junk is None else {"authorization": junk}
    return {}


def case_revoke_or_introspect(fz: Fuzz, data: st.DataObject, path: str) -> None:
    minted = fz.tokens(data.draw(st.sampled_from(["public", "confidential"]))) if data.draw(st.booleans()) else {}
    kind = data.draw(st.sampled_from(["access_token", "refresh_token", "random", "none"]))
    token = minted.get(kind) if kind in minted else data.draw(values(fz))
    pairs: Items = [] if kind == "none" else [("token", str(token))]
    hint = data.draw(st.sampled_from([None, "access_token", "refresh_token", "bogus"]) | TEXT)
    if hint is not None:
        pairs.append(("token_type_hint", hint))
    headers = _caller(fz, data, pairs)
    pairs += data.draw(st.one_of(st.just([]), items(fz, 2)))
    body, content_type = encode(pairs, data.draw(st.sampled_from(["form", "json"])))
    headers["content-type"] = content_type
    response = fz.send("POST", path, headers=headers, content=body)
    fz.minted.clear()  # whatever it revoked
    if response.status_code == 200 and path == "/oauth/revoke":
        assert response.content == b""
    elif response.status_code == 200:
        answer = response.json()
        assert isinstance(answer["active"], bool), answer
        assert answer["active"] or answer == {"active": False}, answer
        is_resource = headers.get("authorization") == basic(
            fz.world.resource_server.client_id, str(fz.world.resource_server.client_secret)
        )
        fresh = minted.get("access_token") == token
        if is_resource and fresh and pairs[:1] == [("token", token)] and len(pairs) <= 2:
            assert answer["active"] and answer["scope"] == "read:account write:notes", answer
    else:
        answer = response.json()
        assert response.status_code == (401 if answer["error"] == "invalid_client" else 400), answer


def authorization_request(fz: Fuzz, data: st.DataObject) -> tuple[Items, bool]:
    """The parameters of an authorization request, each right, wrong or missing; and whether all are right."""
    who = data.draw(st.sampled_from(["public", "confidential", "narrow", "url", "machine", "unknown"]))
    client_id = fz.clients.get(who, "unknown-client")
    right_uri = {"narrow": NARROW_URI, "url": URL_APP_URI}.get(who, REDIRECT_URI)
    loopback = {"public": "http://127.0.0.1:8765/cb", "narrow": "http://[::1]:9/cb"}.get(who, right_uri)
    right = fz.world.authorize_params(client_id, redirect_uri=right_uri, scope="read:account")
    pairs: Items = []
    all_right = who in ("public", "confidential", "narrow", "url")
    for name, value in right.items():
        pick = data.draw(
            st.sampled_from(["right", "right", "wrong", "none"] + (["loopback"] * (name == "redirect_uri")))
        )
        if pick == "right":
            pairs.append((name, value))
        elif pick == "loopback":
            pairs.append((name, loopback))
        elif pick == "wrong":
            pairs.append((name, data.draw(form_values(fz))))
            all_right = False
        elif name != "state":
            all_right = False
    extra = data.draw(st.one_of(st.just([]), items(fz, 3)))
    all_right = all_right and not extra
    return data.draw(st.permutations(pairs + extra)), all_right


def case_authorize_get(fz: Fuzz, data: st.DataObject) -> None:
    pairs, all_right = authorization_request(fz, data)
    signed_in = data.draw(st.booleans())
    headers: dict[str, Any] = {} if signed_in else {"cookie": "sekisho_session=none"}
    accept = data.draw(st.sampled_from(ACCEPTS))
    if accept:
        headers["accept"] = accept
    response = fz.send("GET", "/oauth/authorize?" + query(pairs), headers=headers)
    _check_authorization_answer(response, pairs)
    if all_right:
        assert response.status_code == (200 if signed_in else 303), response.text
        if not signed_in:
            assert response.headers["location"].startswith("/login?next=")


def _check_authorization_answer(response: Response, pairs: Items) -> None:
    if response.status_code not in (302, 303) or response.headers["location"].startswith("/"):
        return
    answer = parse_qs(urlsplit(response.headers["location"]).query)
    assert answer["iss"] == [ISSUER], answer  # RFC 9207, success and error alike
    assert ("code" in answer) != ("error" in answer), answer
    sent_state = [value for name, value in pairs if name == "state"]
    if sent_state and isinstance(sent_state[0], str) and sent_state[0]:
        assert answer.get("state") == sent_state, (answer, sent_state)


def case_consent_post(fz: Fuzz, data: st.DataObject) -> None:
    """The consent form as the page has it, with the CSRF token right or wrong and any field changed or repeated."""
    pairs, all_right = authorization_request(fz, data)
    csrf = data.draw(st.sampled_from(["right", "right", "wrong", "none", "twice"]))
    if csrf in ("right", "twice"):
        pairs.append(("csrf_token", fz.csrf))
    if csrf == "twice":
        pairs.append(("csrf_token", fz.csrf))
    if csrf == "wrong":
        pairs.append(("csrf_token", data.draw(values(fz))))
    decision = data.draw(st.sampled_from(["allow", "deny", None]) | TEXT)
    if decision is not None:
        pairs.append(("decision", decision))
    pairs = data.draw(st.permutations(pairs))
    signed_in = data.draw(st.booleans())
    headers: dict[str, Any] = {"content-type": "application/x-www-form-urlencoded"}
    if not signed_in:
        headers["cookie"] = f"sekisho_csrf={fz.baseline.get('sekisho_csrf')}"
    response = fz.send("POST", "/oauth/authorize", headers=headers, content=query(pairs).encode())
    _check_authorization_answer(response, pairs)
    if all_right and csrf == "right" and signed_in and decision in ("allow", "deny"):
        assert response.status_code == 303, response.text
        answer = parse_qs(urlsplit(response.headers["location"]).query)
        assert ("code" in answer) == (decision == "allow"), answer


def case_settings_apps(fz: Fuzz, data: st.DataObject) -> None:
    headers = data.draw(header_sets(fz))
    response = fz.send("GET", "/settings/apps?" + query(data.draw(items(fz, 3))), headers=headers)
    if "cookie" not in headers:
        assert response.status_code == 200 and "Your apps" in response.text


def case_revoke_app(fz: Fuzz, data: st.DataObject) -> None:
    pairs: Items = []
    csrf = data.draw(st.sampled_from(["right", "wrong", "none", "twice"]))
    if csrf != "none":
        pairs.append(("csrf_token", fz.csrf if csrf != "wrong" else data.draw(values(fz))))
    if csrf == "twice":
        pairs.append(("csrf_token", fz.csrf))
    if data.draw(st.booleans()):
        pairs.append(("client_id", data.draw(values(fz))))
    pairs += data.draw(st.one_of(st.just([]), items(fz, 2)))
    headers = data.draw(header_sets(fz))
    headers.pop("content-type", None)
    headers["content-type"] = "application/x-www-form-urlencoded"
    response = fz.send("POST", "/settings/apps/revoke", headers=headers, content=query(pairs).encode())
    fz.minted.clear()  # whatever it revoked
    if response.status_code == 303:
        assert response.headers["location"] in ("/settings/apps", "/login?next=%2Fsettings%2Fapps")


SESSIONS = st.one_of(
    st.uuids().map(str),
    st.text(max_size=140),
    st.sampled_from(["short", "a/b/c/d/e/f/g/h", "a" * 129, "%0A" * 10, "..", "abcdefgh\n", "ABCDEFGH_-"]),
)


def miauth_params(fz: Fuzz, data: st.DataObject) -> Items:
    pairs: Items = []
    options: dict[str, list[str]] = {
        "name": ["Note Bot", "<b>x</b>", " ", "x" * 500],
        "callback": [MIAUTH_CALLBACK, "javascript:alert(1)", "data:text/html,x", "//evil.test", "com.example.app:/cb"],
        "permission": ["write:notes,read:account", "read:account", "admin", ",,,", ""],
        "icon": [fz.pages.url("/logo.png"), fz.pages.url("/app/"), "https://unknown.test/i.png", "javascript:x"],
    }
    for name, known in options.items():
        pick = data.draw(st.sampled_from(["known", "random", "none"]))
        if pick == "known":
            pairs.append((name, data.draw(st.sampled_from(known))))
        elif pick == "random":
            pairs.append((name, data.draw(form_values(fz))))
    return pairs + data.draw(st.one_of(st.just([]), items(fz, 2)))


def segment(text: str) -> str:
    """`text` as one path segment: `.` and `..` escaped too, or the HTTP client would resolve them away."""
    quoted = quote(text, safe="")
    return quoted.replace(".", "%2E") if text and set(text) <= {"."} else quoted


def _miauth_path(session: str) -> str:
    return "/miauth/" + segment(session)


def _callbacks(pairs: Items) -> tuple[str, ...]:
    return tuple(value for name, value in pairs if name == "callback" and isinstance(value, str))


def case_miauth_get(fz: Fuzz, data: st.DataObject) -> None:
    session = data.draw(SESSIONS)
    pairs = miauth_params(fz, data)
    headers = {} if data.draw(st.booleans()) else {"cookie": "sekisho_session=none"}
    response = fz.send("GET", _miauth_path(session) + "?" + query(pairs), headers=headers, allowed=_callbacks(pairs))
    assert response.status_code in (200, 303, 307, 400), response.status_code


def case_miauth_post(fz: Fuzz, data: st.DataObject) -> None:
    session = data.draw(SESSIONS)
    pairs = miauth_params(fz, data)
    if data.draw(st.booleans()):
        pairs.append(("csrf_token", fz.csrf))
    decision = data.draw(st.sampled_from(["allow", "deny", None]) | TEXT)
    if decision is not None:
        pairs.append(("decision", decision))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    content = query(data.draw(st.permutations(pairs))).encode()
    response = fz.send("POST", _miauth_path(session), headers=headers, content=content, allowed=_callbacks(pairs))
    assert response.status_code in (200, 303, 307, 400), response.status_code  # 307: an empty session id
    if response.status_code in (200, 303) and decision in ("allow", "deny"):
        check = fz.send("POST", f"/api/miauth/{session}/check")
        answer = check.json()
        assert answer["ok"] is (decision == "allow"), answer
        if decision == "allow":
            assert answer["token"].startswith("sek_at_") and answer["user"]["username"] == "alice", answer
            assert fz.send("POST", f"/api/miauth/{session}/check").json() == {"ok": False}


def case_miauth_check(fz: Fuzz, data: st.DataObject) -> None:
    session = data.draw(SESSIONS)
    headers = data.draw(header_sets(fz))
    body = data.draw(RAW_BODIES)
    response = fz.send("POST", f"/api/miauth/{segment(session)}/check", headers=headers, content=body)
    if response.status_code == 200:
        assert response.json()["ok"] in (True, False)
    else:
        assert response.status_code in (404, 405), response.status_code


MISSKEY_ROUTES = [
    "/api/i",
    "/api/notes/create",
    "/api/notes/show",
    "/api/notes/delete",
    "/api/meta",
    "/api/notes/timeline",
    "/api/notes/local-timeline",
    "/api/users/show",
    "/api/users/notes",
]
MISSKEY_SCOPE = {"/api/i": "read:account", "/api/notes/create": "write:notes", "/api/notes/delete": "write:notes"}
MISSKEY_IDS = st.sampled_from(["0", "9" * 10, "a-b", "", "x" * 65])


def case_misskey(fz: Fuzz, data: st.DataObject, path: str) -> None:
    scope = data.draw(st.sampled_from(["read:account write:notes", "read:account", "tweet.read"]))
    token = fz.access_token("public", scope) if data.draw(st.booleans()) else None
    body: dict[str, Any] = {}
    where = data.draw(st.sampled_from(["i", "header", "both", "none"]))
    if token and where in ("i", "both"):
        body["i"] = token
    options: dict[str, st.SearchStrategy[Any]] = {
        "text": st.sampled_from(["hello", "", "x" * 3001, "a\x00b"]) | TEXT | JSON_VALUES,
        "visibility": st.sampled_from(["public", "home", "followers", "specified", "secret"]) | JSON_VALUES,
        "cw": st.sampled_from(["cw", "x" * 101]) | JSON_VALUES,
        "noteId": st.sampled_from([*fz.notes, "x" * 65, "", "a\x00b"]) | JSON_VALUES,
        "i": st.sampled_from(["sek_at_x", ""]) | JSON_VALUES,
        "replyId": st.sampled_from([*fz.notes, "0"]) | MISSKEY_IDS | JSON_VALUES,
        "localOnly": JSON_VALUES,
        "limit": st.integers(-5, 105) | JSON_VALUES,
        "sinceId": st.sampled_from([*fz.notes, "0"]) | MISSKEY_IDS | JSON_VALUES,
        "untilId": st.sampled_from([*fz.notes, "0"]) | MISSKEY_IDS | JSON_VALUES,
        "withReplies": JSON_VALUES,
        "withFiles": JSON_VALUES,
        "userId": MISSKEY_IDS | JSON_VALUES,
        "userIds": st.lists(MISSKEY_IDS, max_size=3) | JSON_VALUES,
        "username": st.sampled_from(["alice", "bob", "", "a\x00"]) | JSON_VALUES,
        "detail": JSON_VALUES,
    }
    for name, values_of in options.items():
        if name not in body and data.draw(st.booleans()):
            body[name] = data.draw(values_of)
    body.update(data.draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)))
    headers = data.draw(header_sets(fz, token))
    if token and where in ("header", "both"):
        headers["authorization"] = f"Bearer {token}"
    headers.setdefault("content-type", "application/json")
    response = fz.send("POST", path, headers=headers, content=json.dumps(body).encode())
    status = response.status_code
    if status == 401 and response.json()["error"]["code"] == "CREDENTIAL_REQUIRED":  # no token: RFC 6750 §3.1
        assert token is None or where == "none", (body, response.request.headers)
        metadata = ISSUER + "/.well-known/oauth-protected-resource"  # RFC 9728 §5.1 (issue 25)
        assert response.headers["www-authenticate"] == f'Bearer realm="sekisho", resource_metadata="{metadata}"'
    elif status in (401, 403):
        expected = 'error="invalid_token"' if status == 401 else 'error="insufficient_scope"'
        assert expected in response.headers["www-authenticate"], response.headers
    if status == 200:
        assert isinstance(response.json(), dict | list)
    granted = token is not None and MISSKEY_SCOPE.get(path, "read:account") in scope.split()
    plain = body == {"i": token} or (not body and where == "header")
    sent = response.request.headers.get("authorization")
    if granted and plain and path == "/api/i" and sent in (None, f"Bearer {token}"):
        assert status == 200 and response.json()["username"] == "alice", response.text


X_ROUTES = sorted((method, path) for method, path in ROUTES if path.startswith("/2/"))
X_SCOPE = "tweet.read tweet.write users.read offline.access"


def case_x(fz: Fuzz, data: st.DataObject, method: str, path: str) -> None:
    scope = data.draw(st.sampled_from([X_SCOPE, "tweet.read", "read:account"]))
    token = fz.access_token("public", scope) if data.draw(st.booleans()) else None
    note_id = data.draw(st.sampled_from([*fz.notes, "a\x00b", "x" * 100]) | st.text(max_size=80))
    url = path.replace("{id}", segment(note_id)) if "{id}" in path else path
    if data.draw(st.booleans()):
        url += "?" + query(data.draw(items(fz, 3)) + ([("access_token", token)] if token else []))
    headers = data.draw(header_sets(fz, token))
    if token and data.draw(st.booleans()):
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps(data.draw(st.fixed_dictionaries({}, optional={"text": TEXT | JSON_VALUES}))).encode()
    if data.draw(st.booleans()):
        body = data.draw(RAW_BODIES)
    response = fz.send(method, url, headers=headers, content=body if method == "POST" else None)
    if response.status_code in (401, 403):
        assert response.headers["www-authenticate"].startswith("Bearer "), response.headers
    if response.status_code in (200, 201):  # issue 23: a lookup may answer only X's partial errors
        answer = response.json()
        assert isinstance(answer.get("data"), dict | list) or isinstance(answer.get("errors"), list), answer
    if not token or token not in str(response.request.headers.get("authorization", "")):
        # never by a query-string token; a 404 only from the router (an id with a slash is another path)
        html = response.headers.get("content-type", "").startswith("text/html")  # the router's 404 page
        routed = response.status_code == 404 and (html or "error" in response.json())
        assert response.status_code in (307, 401) or routed, response.status_code


def case_headers(fz: Fuzz, data: st.DataObject) -> None:
    method, path = data.draw(st.sampled_from(sorted(ROUTES)))
    content = data.draw(RAW_BODIES) if method in ("POST", "DELETE") else None
    fz.send(method, concrete(fz, path), headers=data.draw(header_sets(fz)), content=content)


def case_raw_body(fz: Fuzz, data: st.DataObject, path: str) -> None:
    headers = data.draw(header_sets(fz))
    fz.send("POST", concrete(fz, path), headers=headers, content=data.draw(RAW_BODIES))


def case_json_document(fz: Fuzz, data: st.DataObject, path: str) -> None:
    document = data.draw(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), JSON_VALUES, max_size=8))
    content = json.dumps(document).encode()
    fz.send("POST", concrete(fz, path), headers={"content-type": "application/json"}, content=content)


def case_login(fz: Fuzz, data: st.DataObject) -> None:
    pairs: Items = []
    options: dict[str, st.SearchStrategy[Any]] = {
        "username": st.sampled_from(["alice", "bob", "ALICE", "nobody", "x" * 300]) | TEXT,
        "password": st.sampled_from([PASSWORD, "wrong password", "x" * 2000]) | TEXT,
        "csrf_token": st.sampled_from([fz.csrf, fz.csrf]) | TEXT,
        "next": st.sampled_from(
            ["/settings/apps", "//evil.test", "/\\evil.test", "https://evil.test/", "/\t/evil.test"]
        )
        | TEXT,
    }
    for name, strategy in options.items():
        if data.draw(st.integers(0, 4)):
            pairs.append((name, data.draw(strategy)))
    pairs += data.draw(st.one_of(st.just([]), items(fz, 2)))
    headers = {"content-type": data.draw(st.sampled_from(CONTENT_TYPES[:3]))}
    response = fz.send("POST", "/login", headers=headers, content=query(data.draw(st.permutations(pairs))).encode())
    assert response.status_code in (303, 400, 401, 429), response.status_code
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) > 0


def case_device(fz: Fuzz, data: st.DataObject) -> None:
    """The device pages (RFC 8628) signed in as alice: codes right in every spelling, wrong, or anything; decisions
    by GET and POST, with or without the CSRF token."""
    user_code = fz.device_code(data.draw(st.booleans()))
    if data.draw(st.booleans()):  # a fresh entry count (else the throttle's 429 is fuzzed too)
        with sql.connect(fz.world.database) as connection:
            connection.execute(text("DELETE FROM login_throttles WHERE key LIKE 'device:%'"))
            connection.commit()
    options: dict[str, st.SearchStrategy[Any]] = {
        "user_code": st.sampled_from([user_code, user_code.lower().replace("-", " "), "AAAA-AAAA", "x" * 100]) | TEXT,
        "decision": st.sampled_from(["allow", "deny", "ALLOW"]) | TEXT,
        "csrf_token": st.sampled_from([fz.csrf, fz.csrf]) | TEXT,
    }
    pairs: Items = [(name, data.draw(strategy)) for name, strategy in options.items() if data.draw(st.integers(0, 3))]
    pairs += data.draw(st.one_of(st.just([]), items(fz, 2)))
    if data.draw(st.booleans()):
        response = fz.send("GET", "/device?" + query(pairs), headers=data.draw(header_sets(fz)))
    else:
        headers = {"content-type": "application/x-www-form-urlencoded"}
        response = fz.send("POST", "/device", headers=headers, content=query(pairs).encode())
    assert response.status_code in (200, 303, 400, 429), response.status_code


def case_logout(fz: Fuzz, data: st.DataObject) -> None:
    pairs: Items = []
    if data.draw(st.booleans()):
        pairs.append(("csrf_token", fz.csrf if data.draw(st.booleans()) else data.draw(values(fz))))
    pairs += data.draw(st.one_of(st.just([]), items(fz, 2)))
    headers = data.draw(header_sets(fz))
    headers["content-type"] = "application/x-www-form-urlencoded"
    response = fz.send("POST", "/logout", headers=headers, content=query(pairs).encode())
    if response.status_code == 303:
        assert response.headers["location"] == "/"


def case_demo_and_home(fz: Fuzz, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(["/demo/callback", "/", "/oauth/jwks", "/@alice", "/@" + "x" * 100]))
    headers = data.draw(header_sets(fz))
    if data.draw(st.booleans()):
        headers["cookie"] = "sekisho_demo_verifier=" + data.draw(st.text(st.characters(codec="ascii"), max_size=40))
    response = fz.send("GET", path + "?" + query(data.draw(items(fz, 6))), headers=headers)
    if path == "/oauth/jwks":
        assert response.json()["keys"], "a JWT world publishes its signing key"


# ---------------------------------------------------------------- the tests (SQLite)


def test_every_route_of_the_app_is_fuzzed(fz: Fuzz) -> None:
    found = set()
    for route in fz.http.app.routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path + "/{file}"))
        elif isinstance(route, Route):
            found |= {
                (method, route.path.replace(":anytext", "")) for method in route.methods or () if method != "HEAD"
            }
    assert found == ROUTES


@fuzz(1)
@given(data=st.data())
def test_any_path(fz: Fuzz, data: st.DataObject) -> None:
    case_any_path(fz, data)


@fuzz(1)
@given(data=st.data())
def test_any_method_on_every_route(fz: Fuzz, data: st.DataObject) -> None:
    case_any_method(fz, data)


@fuzz(2)
@given(data=st.data())
def test_get_routes_with_any_query_and_headers(fz: Fuzz, data: st.DataObject) -> None:
    case_get_pages(fz, data)


@fuzz(0.5)
@given(data=st.data())
def test_cors_preflights(fz: Fuzz, data: st.DataObject) -> None:
    case_cors_preflight(fz, data)


@fuzz(3)
@given(data=st.data())
def test_token_endpoint_with_real_clients_codes_and_refresh_tokens(fz: Fuzz, data: st.DataObject) -> None:
    case_token(fz, data)


@fuzz(2)
@given(data=st.data())
def test_token_endpoint_with_any_parameters_and_headers(fz: Fuzz, data: st.DataObject) -> None:
    case_token_params(fz, data)


@pytest.mark.parametrize("path", ["/oauth/revoke", "/oauth/introspect"])
@fuzz(2)
@given(data=st.data())
def test_revoke_and_introspect_with_real_clients_and_tokens(fz: Fuzz, path: str, data: st.DataObject) -> None:
    case_revoke_or_introspect(fz, data, path)


@fuzz(3)
@given(data=st.data())
def test_authorization_requests(fz: Fuzz, data: st.DataObject) -> None:
    case_authorize_get(fz, data)


@fuzz(3)
@given(data=st.data())
def test_consent_decisions(fz: Fuzz, data: st.DataObject) -> None:
    case_consent_post(fz, data)


@fuzz(2)
@given(data=st.data())
def test_device_pages(fz: Fuzz, data: st.DataObject) -> None:
    case_device(fz, data)


@fuzz(1)
@given(data=st.data())
def test_connected_apps_page(fz: Fuzz, data: st.DataObject) -> None:
    case_settings_apps(fz, data)


@fuzz(1)
@given(data=st.data())
def test_revoking_an_app(fz: Fuzz, data: st.DataObject) -> None:
    case_revoke_app(fz, data)


@fuzz(1.5)
@given(data=st.data())
def test_miauth_consent_page(fz: Fuzz, data: st.DataObject) -> None:
    case_miauth_get(fz, data)


@fuzz(1.5)
@given(data=st.data())
def test_miauth_decisions_and_their_check(fz: Fuzz, data: st.DataObject) -> None:
    case_miauth_post(fz, data)


@fuzz(1)
@given(data=st.data())
def test_miauth_check(fz: Fuzz, data: st.DataObject) -> None:
    case_miauth_check(fz, data)


@pytest.mark.parametrize("path", MISSKEY_ROUTES)
@fuzz(1.5)
@given(data=st.data())
def test_misskey_api(fz: Fuzz, path: str, data: st.DataObject) -> None:
    case_misskey(fz, data, path)


@pytest.mark.parametrize(("method", "path"), X_ROUTES)
@fuzz(1.5)
@given(data=st.data())
def test_x_api(fz: Fuzz, method: str, path: str, data: st.DataObject) -> None:
    case_x(fz, data, method, path)


@fuzz(4)
@given(data=st.data())
def test_every_route_with_any_headers(fz: Fuzz, data: st.DataObject) -> None:
    case_headers(fz, data)


RAW_BODY_ROUTES = [path for path in POST_ROUTES if path not in ("/login", "/logout")]


@pytest.mark.parametrize("path", RAW_BODY_ROUTES)
@fuzz(0.5)
@given(data=st.data())
def test_raw_bodies(fz: Fuzz, path: str, data: st.DataObject) -> None:
    case_raw_body(fz, data, path)


JSON_ROUTES = [
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/register",
    "/api/i",
    "/api/notes/create",
    "/2/tweets",
]


@pytest.mark.parametrize("path", JSON_ROUTES)
@fuzz(0.5)
@given(data=st.data())
def test_json_documents(fz: Fuzz, path: str, data: st.DataObject) -> None:
    case_json_document(fz, data, path)


# /login and /logout change who is signed in (and failed logins throttle the address): a world of their own.


@fuzz(2)
@given(data=st.data())
def test_login(accounts: Fuzz, data: st.DataObject) -> None:
    case_login(accounts, data)


@fuzz(1)
@given(data=st.data())
def test_logout(accounts: Fuzz, data: st.DataObject) -> None:
    case_logout(accounts, data)


@fuzz(1)
@given(data=st.data())
def test_demo_pages_and_jwt_keys(accounts: Fuzz, data: st.DataObject) -> None:
    case_demo_and_home(accounts, data)


# ---------------------------------------------------------------- PostgreSQL: a sample of every case

CASES: dict[str, Callable[[Fuzz, st.DataObject], None]] = {
    "any path": case_any_path,
    "any method": case_any_method,
    "GET routes": case_get_pages,
    "token": case_token,
    "token params": case_token_params,
    "revoke": lambda fz, data: case_revoke_or_introspect(fz, data, "/oauth/revoke"),
    "introspect": lambda fz, data: case_revoke_or_introspect(fz, data, "/oauth/introspect"),
    "authorize": case_authorize_get,
    "consent": case_consent_post,
    "apps": case_settings_apps,
    "revoke app": case_revoke_app,
    "miauth GET": case_miauth_get,
    "miauth POST": case_miauth_post,
    "miauth check": case_miauth_check,
    **{f"misskey {path}": partial(case_misskey, path=path) for path in MISSKEY_ROUTES},
    **{f"x {method} {path}": partial(case_x, method=method, path=path) for method, path in X_ROUTES},
    "headers": case_headers,
    "raw body": lambda fz, data: case_raw_body(fz, data, data.draw(st.sampled_from(RAW_BODY_ROUTES))),
}


@fuzz(3)
@given(data=st.data())
def test_a_sample_of_every_case_on_postgresql(pg: Fuzz, data: st.DataObject) -> None:
    CASES[data.draw(st.sampled_from(sorted(CASES)))](pg, data)
