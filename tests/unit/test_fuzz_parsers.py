"""Property-based fuzzing of the parsers of untrusted input, server and resource side: each returns a value or raises
its module's own error, never anything else; where a round trip or an invariant exists, it holds.

Sizes: tests/fuzz.py (`SEKISHO_FUZZ_CASES`). The client's parsers: tests/client/test_fuzz_client.py.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.requests import Request

from sekisho.client.loopback import client_page
from sekisho.client.oauth import ClientCredentials
from sekisho.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    OAuthError,
    TemporarilyUnavailable,
)
from sekisho.protocol import bearer, client_ids, jwt_access, links, pkce, redirects, scopes
from sekisho.protocol.credentials import parse_basic
from sekisho.protocol.params import (
    MAX_VALUE_LENGTH,
    TOKEN_PARAMETERS,
    AuthorizationRequest,
    TokenRequest,
    parse_body,
    parse_form,
    parse_items,
    parse_json,
)
from sekisho.resource.introspection import basic_authorization, parse_answer
from sekisho.resource.jwks import usable_keys
from sekisho.resource.starlette import bearer_token
from sekisho.resource.verifiers import check_shape
from sekisho.server import client_documents, miauth
from sekisho.server.client_documents import DocumentError
from sekisho.server.fetch import Fetched, is_public
from sekisho.server.url_clients import MAX_TTL, lifetime
from sekisho.server.web.pages import safe_next
from tests.fuzz import fuzz

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(codec="ascii"), max_size=60),
    st.sampled_from(["", " ", "\x00", "%00", "%zz", "\u202e", "\U0001f600", "é", "a" * (MAX_VALUE_LENGTH + 1)]),
)
ANY_TEXT = st.text(st.characters(), max_size=80)  # surrogates included: JSON's "\ud800" escapes make them
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6)


# ---------------------------------------------------------------- params: form, JSON, duplicates


FORMISH = st.lists(
    st.tuples(st.text(max_size=8) | st.binary(max_size=8), st.text(max_size=20) | st.binary(max_size=20)), max_size=6
).map(lambda pairs: urlencode(pairs).encode())


def _checked_params(params: dict[str, str]) -> None:
    for name, value in params.items():
        assert isinstance(name, str) and isinstance(value, str) and value, params
        assert len(value) <= MAX_VALUE_LENGTH and not CONTROL.search(value), params
        value.encode("utf-8")  # valid Unicode: no lone surrogates get through


@fuzz(1)
@given(st.one_of(st.binary(max_size=400), FORMISH))
def test_a_form_body_gives_parameters_or_invalid_request(body: bytes) -> None:
    try:
        _checked_params(parse_form(body))
    except InvalidRequest:
        pass


@fuzz(1)
@given(
    st.one_of(
        st.binary(max_size=400),
        JSON_OBJECTS.map(lambda d: json.dumps(d).encode()),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    )
)
def test_a_json_body_gives_parameters_or_invalid_request(body: bytes) -> None:
    try:
        _checked_params(parse_json(body))
    except InvalidRequest:
        pass


CONTENT_TYPES = st.sampled_from(
    [
        "",
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON ; charset=latin-1",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/ld+json",
        "text/plain",
        "multipart/form-data; boundary=x",
        ";",
        " ; ; ",
    ]
) | st.text(max_size=30)


@fuzz(0.75)
@given(st.binary(max_size=300) | FORMISH, CONTENT_TYPES)
def test_any_body_of_any_type_gives_parameters_or_invalid_request(body: bytes, content_type: str) -> None:
    try:
        _checked_params(parse_body(body, content_type))
    except InvalidRequest:
        pass


NAMES = st.sampled_from(["client_id", "code", "state", "scope"]) | st.text(min_size=1, max_size=8)
PRINTABLE = st.text(
    st.characters(min_codepoint=0x20, exclude_characters="\x7f", exclude_categories=["Cs"]), max_size=30
)


@fuzz(0.75)
@given(st.lists(st.tuples(NAMES, PRINTABLE), min_size=1, max_size=6), st.data())
def test_a_repeated_parameter_is_refused_in_every_encoding(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    repeated = data.draw(st.sampled_from(pairs))
    pairs = data.draw(st.permutations([*pairs, repeated]))
    with pytest.raises(InvalidRequest):
        parse_items(pairs)
    with pytest.raises(InvalidRequest):
        parse_form(urlencode(pairs).encode())
    members = ",".join(f"{json.dumps(name)}:{json.dumps(value)}" for name, value in pairs)
    with pytest.raises(InvalidRequest):
        parse_json(("{" + members + "}").encode())


@fuzz(0.75)
@given(
    st.dictionaries(
        st.sampled_from(sorted(TOKEN_PARAMETERS)) | st.text(min_size=1, max_size=10), PRINTABLE | st.none(), max_size=6
    )
)
def test_json_and_form_give_the_same_parameters(document: dict[str, str | None]) -> None:
    expected = {name: value for name, value in document.items() if value}
    assert parse_json(json.dumps(document).encode()) == expected
    form = {name: value for name, value in document.items() if value is not None}
    assert parse_form(urlencode(form).encode()) == expected
    # The token endpoints' body keeps only their own parameters and ignores the rest (RFC 6749 §3.1).
    known = {name: value for name, value in expected.items() if name in TOKEN_PARAMETERS}
    assert parse_body(json.dumps(document).encode(), "application/json; charset=utf-8") == known
    assert parse_body(urlencode(form).encode(), "application/x-www-form-urlencoded") == known


@fuzz(0.5)
@given(st.dictionaries(st.sampled_from(list(AuthorizationRequest.__slots__)) | NAMES, PRINTABLE, max_size=9))
def test_an_authorization_request_round_trips_through_its_form_fields(params: dict[str, str]) -> None:
    request = AuthorizationRequest.from_params(params)
    assert request.as_params() == {name: params[name] for name in AuthorizationRequest.__slots__ if name in params}
    assert AuthorizationRequest.from_params(request.as_params()) == request


@fuzz(0.5)
@given(st.dictionaries(st.sampled_from(list(TokenRequest.__slots__)) | NAMES, PRINTABLE, max_size=8))
def test_a_token_request_needs_only_a_grant_type(params: dict[str, str]) -> None:
    try:
        request = TokenRequest.from_params(params)
    except InvalidRequest:
        assert "grant_type" not in params
        return
    assert request.grant_type == params["grant_type"]
    assert request.code == params.get("code") and request.refresh_token == params.get("refresh_token")


# ---------------------------------------------------------------- Authorization headers: Basic and Bearer


BASIC_HEADERS = st.one_of(
    ANY_TEXT,
    st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    st.tuples(st.sampled_from(["Basic", "basic", "BASIC", "Basic ", " Basic"]), st.text(max_size=40)).map(" ".join),
)


@fuzz(1)
@given(BASIC_HEADERS)
def test_a_basic_header_gives_credentials_none_or_invalid_client(header: str) -> None:
    try:
        found = parse_basic(header)
    except InvalidClient:
        return
    if found is not None:
        client_id, secret = found
        assert isinstance(client_id, str) and client_id and isinstance(secret, str)


ID_TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40)  # no controls: refused


@fuzz(0.75)
@given(ID_TEXT, st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=40))
def test_basic_credentials_round_trip_from_the_client_and_the_resource_server(client_id: str, secret: str) -> None:
    _, headers = ClientCredentials(client_id, secret or "s").apply({})
    assert parse_basic(headers["Authorization"]) == (client_id, secret or "s")
    assert parse_basic(basic_authorization(client_id, secret)) == (client_id, secret)


B64TOKEN = st.from_regex(r"[A-Za-z0-9\-._~+/]{1,200}=*", fullmatch=True)


@fuzz(1)
@given(
    st.one_of(
        ANY_TEXT,
        B64TOKEN.map("Bearer ".__add__),
        st.tuples(st.sampled_from(["Bearer", "bearer"]), ANY_TEXT).map(" ".join),
    )
)
def test_a_bearer_header_gives_its_token_or_none(header: str) -> None:
    token = bearer.parse_authorization(header)
    if token is not None:
        assert re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", token) and len(token) <= bearer.MAX_TOKEN_LENGTH
        assert header.strip().lower().startswith("bearer ") and header.strip().endswith(token)


@fuzz(0.75)
@given(B64TOKEN, st.sampled_from(["Bearer", "bearer", "BEARER"]), st.sampled_from([" ", "  ", " \t "]))
def test_a_bearer_token_round_trips(token: str, scheme: str, space: str) -> None:
    assert bearer.parse_authorization(f"{scheme}{space}{token}") == token
    with pytest.raises(InvalidToken):  # never a second, different token in a Misskey body
        bearer_token(_request([(b"authorization", f"Bearer {token}".encode())]), token + "x")


def _request(headers: list[tuple[bytes, bytes]]) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""})


@fuzz(0.75)
@given(st.binary(max_size=80).filter(lambda raw: not set(raw) & {0, 10, 13}), st.none() | ANY_TEXT)
def test_the_resource_server_finds_a_token_or_refuses_with_invalid_token(header: bytes, body_token: str | None) -> None:
    try:
        token = bearer_token(_request([(b"authorization", header)]), body_token)
    except InvalidToken as error:
        assert error.status == 401
        return
    assert token and (token == body_token or token in header.decode("latin-1"))


QUOTED = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@fuzz(0.75)
@given(st.none() | st.sampled_from(["invalid_token", "insufficient_scope"]), st.none() | TEXT, st.none() | TEXT)
def test_a_challenge_is_one_well_formed_header_value(
    error: str | None, description: str | None, scope: str | None
) -> None:
    value = bearer.challenge(error, description, scope)
    assert value.startswith('Bearer realm="sekisho"')
    assert not CONTROL.search(value), value  # a line break here would split the response's headers
    params = dict(QUOTED.findall(value))
    assert QUOTED.sub("", value).replace("Bearer", "").strip(" ,") == "", value  # nothing outside quoted pairs
    if error:
        assert params["error"] == error


# ---------------------------------------------------------------- scopes and PKCE


SCOPE_TEXT = st.one_of(
    TEXT,
    st.lists(st.sampled_from([*list(scopes.DEFAULT_SCOPES)[:12], "admin", "é", 'q"', ""]), max_size=8).map(" ".join),
)


@fuzz(1)
@given(SCOPE_TEXT, st.none() | st.lists(st.sampled_from(list(scopes.DEFAULT_SCOPES)[:12]), max_size=5))
def test_a_scope_gives_known_allowed_unique_tokens_or_invalid_scope(raw: str, allowed: list[str] | None) -> None:
    try:
        granted = scopes.check_scope(raw, known=scopes.DEFAULT_SCOPES, allowed=allowed)
    except InvalidScope:
        return
    assert granted and len(set(granted)) == len(granted)
    assert set(granted) <= set(scopes.DEFAULT_SCOPES) and (allowed is None or set(granted) <= set(allowed))
    assert scopes.split_scope(scopes.join_scope(granted)) == granted


@fuzz(0.75)
@given(ANY_TEXT)
def test_splitting_a_scope_is_idempotent(raw: str) -> None:
    tokens = scopes.split_scope(raw)
    assert all(token and " " not in token for token in tokens) and len(set(tokens)) == len(tokens)
    assert scopes.split_scope(scopes.join_scope(tokens)) == tokens


@fuzz(0.75)
@given(SCOPE_TEXT, st.lists(st.sampled_from(list(scopes.DEFAULT_SCOPES)[:8]), min_size=1, max_size=5, unique=True))
def test_narrowing_never_widens(raw: str, original: list[str]) -> None:
    try:
        narrowed = scopes.check_narrowing(raw, tuple(original))
    except InvalidScope:
        return
    assert narrowed and set(narrowed) <= set(original)


VERIFIERS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=43, max_size=128
)


@fuzz(1)
@given(st.none() | TEXT | VERIFIERS.map(pkce.s256), st.none() | st.sampled_from(["S256", "plain", "s256", ""]) | TEXT)
def test_a_challenge_is_43_base64url_characters_with_s256_or_invalid_request(
    challenge: str | None, method: str | None
) -> None:
    try:
        checked = pkce.check_challenge(challenge, method)
    except InvalidRequest:
        return
    assert method == "S256" and checked == challenge and re.fullmatch(r"[A-Za-z0-9_-]{43}", checked)


@fuzz(1)
@given(st.none() | TEXT | VERIFIERS, VERIFIERS)
def test_only_the_verifier_of_the_challenge_passes(verifier: str | None, original: str) -> None:
    challenge = pkce.s256(original)
    try:
        pkce.check_verifier(verifier, challenge)
    except (InvalidRequest, InvalidGrant):
        assert verifier != original
        return
    assert verifier == original or pkce.s256(str(verifier)) == challenge


# ---------------------------------------------------------------- redirect URIs


REGISTERED = [
    "https://app.example/callback",
    "https://app.example/cb?mode=web",
    "http://127.0.0.1/cb",
    "http://127.0.0.1:8080/cb",
    "http://[::1]/cb",
    "http://localhost:3000/cb",
    "com.example.app:/oauth2redirect",
]
MUTATIONS = [
    lambda u: u,
    lambda u: u + "/",
    lambda u: u + "#",
    lambda u: u + "#x",
    lambda u: u + "?",
    lambda u: u + "&x=1",
    lambda u: u.upper(),
    lambda u: u.replace("://", "://evil.test@"),
    lambda u: u.replace("://", ":///"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1:9999"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1:"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1:99999"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1:-1"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1:0x50"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1.evil.test"),
    lambda u: u.replace("127.0.0.1", "127.0.0.1@evil.test"),
    lambda u: u.replace("[::1]", "[::1]:1234"),
    lambda u: u.replace("[::1]", "[0:0:0:0:0:0:0:1]"),
    lambda u: u.replace("localhost:3000", "localhost:3001"),
    lambda u: u.replace("http://", "https://"),
    lambda u: u.replace("https://", "http://"),
    lambda u: u.replace("/cb", "/cb/../cb"),
    lambda u: u.replace("/cb", "/c%62"),
    lambda u: u.replace("app.example", "app.example."),
    lambda u: u.replace("app.example", "APP.example"),
    lambda u: u.replace("mode=web", "mode=web&mode=app"),
    lambda u: u + "\x00",
    lambda u: u.replace("/", "\\", 3),
    lambda u: " " + u,
]
URIS = st.one_of(
    st.tuples(st.sampled_from(REGISTERED), st.sampled_from(MUTATIONS), st.sampled_from(MUTATIONS)).map(
        lambda t: t[2](t[1](t[0]))
    ),
    ANY_TEXT,
)


def _same_but_port(requested: str, registered: str) -> bool:
    """RFC 8252 §7.3, by hand: http on the literal 127.0.0.1 or [::1], and nothing but a decimal port different."""
    pattern = r"(?i:http)://(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(/[^?#]*)?(\?[^#]*)?"
    wanted, have = re.fullmatch(pattern, requested), re.fullmatch(pattern, registered)
    if not wanted or not have or (wanted.group(2) and int(wanted.group(2)) > 65535):
        return False
    return (wanted.group(1), wanted.group(3), wanted.group(4)) == (have.group(1), have.group(3), have.group(4))


@fuzz(1.5)
@given(URIS, st.lists(st.sampled_from(REGISTERED), min_size=1, max_size=3), st.booleans())
def test_a_redirect_uri_matches_only_exactly_or_by_a_loopback_port(
    requested: str, registered: list[str], port_may_vary: bool
) -> None:
    """Exactly, or (a public client's) loopback URI with another port; a confidential client's only exactly."""
    if not redirects.matches(requested, registered, port_may_vary=port_may_vary):
        assert requested not in registered
        return
    if requested.endswith("?") and requested[:-1] in registered:
        return  # an empty query: urlsplit cannot tell it from none, and the browser lands on the same URI
    if not port_may_vary:
        assert requested in registered, requested
        return
    assert requested in registered or any(_same_but_port(requested, uri) for uri in registered), requested


@fuzz(1)
@given(URIS)
def test_a_registrable_uri_is_absolute_without_fragment_or_dangerous_scheme(uri: str) -> None:
    assert isinstance(redirects.is_loopback(uri), bool)
    try:
        assert redirects.check_registrable(uri) == uri
    except InvalidRequest:
        return
    parts = urlsplit(uri)
    assert parts.scheme and "#" not in uri and not any(ch.isspace() for ch in uri)
    assert parts.scheme.lower() not in ("javascript", "data", "file", "vbscript")
    assert parts.scheme != "http" or parts.hostname in ("127.0.0.1", "::1", "localhost"), uri


@fuzz(1)
@given(
    URIS,
    st.dictionaries(
        st.sampled_from(["code", "state", "iss", "error", "mode"]),
        st.none() | ANY_TEXT.filter(lambda s: s == s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
        max_size=4,
    ),
)
def test_a_built_redirect_keeps_the_uri_and_adds_the_parameters(uri: str, params: dict[str, str | None]) -> None:
    try:
        redirects.check_registrable(uri)
    except InvalidRequest:
        return  # not one a client can register: nothing to build
    built = redirects.build_redirect(uri, params)
    before, after = urlsplit(uri), urlsplit(built)
    assert (after.scheme, after.netloc, after.path, after.fragment) == (before.scheme, before.netloc, before.path, "")
    added = [(name, value) for name, value in params.items() if value is not None]
    assert parse_qsl(after.query, keep_blank_values=True) == parse_qsl(before.query, keep_blank_values=True) + added


# ---------------------------------------------------------------- URL client ids


HOSTS = [
    "app.example", "APP.Example", "app.example.", "localhost", "a.localhost", "127.0.0.1", "[::1]", "10.0.0.1",
    "[fe80::1%25eth0]", "xn--bcher-kva.example", "bücher.example", "app.example:443", "app.example:8443",
    "app.example:0", "app.example:99999", "app.example:", "user@app.example", "user:pw@app.example", "",
    "[::ffff:127.0.0.1]", "2130706433", "0x7f000001", "app..example", "app.example\\@evil.test",
]  # fmt: skip
PATHS = ["", "/", "/app", "/app/", "/a/./b", "/a/../b", "/%2e%2e/", "/%2E", "//double", "/é", "/a b", "/a%00"]
URL_IDS = st.one_of(
    st.builds(
        lambda scheme, host, path, query, fragment: f"{scheme}{host}{path}{query}{fragment}",
        st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "https:/", "https:", "//", ""]),
        st.sampled_from(HOSTS),
        st.sampled_from(PATHS),
        st.sampled_from(["", "?", "?a=1", "?a=1&a=2", "?x=%zz"]),
        st.sampled_from(["", "#", "#frag"]),
    ),
    ANY_TEXT,
    st.just("https://app.example/" + "a" * 2100),
)


@fuzz(1.5)
@given(URL_IDS, st.booleans())
def test_a_url_client_id_normalizes_to_a_canonical_url_or_invalid_client(client_id: str, allow_private: bool) -> None:
    assert isinstance(client_ids.is_url(client_id), bool)
    try:
        canonical = client_ids.normalize(client_id, allow_private=allow_private)
    except InvalidClient as error:
        assert error.status == 400
        return
    parts = urlsplit(canonical)
    assert parts.scheme == "https" or (allow_private and parts.scheme == "http"), canonical
    assert parts.hostname and "@" not in parts.netloc and "#" not in canonical and parts.path.startswith("/")
    assert client_ids.normalize(canonical, allow_private=allow_private) == canonical  # idempotent
    if not allow_private:
        assert parts.hostname not in ("localhost", "127.0.0.1", "::1") and not parts.hostname.endswith(".localhost")


# ---------------------------------------------------------------- Link headers and client documents


LINK_HEADERS = st.one_of(
    ANY_TEXT,
    st.lists(
        st.builds(
            lambda target, params: f"<{target}>{params}",
            st.sampled_from(["https://app.example/cb", "/cb", "cb", "", "http://[oops", "https://a.example/x,y"])
            | st.text(max_size=20),
            st.sampled_from(['; rel="redirect_uri"', "; rel=redirect_uri", '; rel="other redirect_uri"', ';rel="x"'])
            | st.text(max_size=20),
        ),
        max_size=5,
    ).map(", ".join),
)


@fuzz(1)
@given(st.lists(LINK_HEADERS, max_size=4), st.sampled_from(["https://app.example/page", "http://[::1]/", "x"]))
def test_link_headers_give_a_bounded_list_of_targets(headers: list[str], base: str) -> None:
    found = links.targets(headers, "redirect_uri", base)
    assert len(found) <= links.MAX_LINKS and all(isinstance(target, str) for target in found)


SIMPLE_URIS = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9._~/-]{0,20}", fullmatch=True),
)


@fuzz(0.75)
@given(st.lists(st.tuples(SIMPLE_URIS, st.booleans()), max_size=8))
def test_link_header_targets_round_trip(entries: list[tuple[str, bool]]) -> None:
    header = ", ".join(f'<{uri}>; rel="{"redirect_uri" if wanted else "stylesheet"}"' for uri, wanted in entries)
    assert links.targets([header], "redirect_uri", "https://base.example/") == [
        uri for uri, wanted in entries if wanted
    ]


CLIENT_ID = "https://app.example/client"


def _fetched(body: bytes, content_type: str = "text/html", link: list[str] | None = None) -> Fetched:
    headers = httpx.Headers([("link", value.encode()) for value in link or []])  # as bytes, as from the wire
    return Fetched(CLIENT_ID, content_type, headers, body)


def _checked_metadata(found: client_documents.ClientMetadata, *, need_uris: bool) -> None:
    assert found.client_id == CLIENT_ID
    assert isinstance(found.name, str) and 0 < len(found.name) <= client_documents.MAX_NAME
    assert not re.search(r"\s\s|^\s|[\t\n\r]", found.name), found.name
    assert found.logo_uri is None or found.logo_uri.startswith("https://")
    assert not need_uris or 0 < len(found.redirect_uris) <= client_documents.MAX_REDIRECT_URIS
    for uri in found.redirect_uris if need_uris else ():
        redirects.check_registrable(uri)


JSON_DOCUMENTS = st.one_of(
    JSON_OBJECTS,
    st.fixed_dictionaries(
        {"client_id": st.sampled_from([CLIENT_ID, CLIENT_ID + "/", "https://other.example/"])},
        optional={
            "redirect_uris": st.lists(st.sampled_from(REGISTERED) | SIMPLE_URIS | ANY_TEXT, max_size=4) | JSON_VALUES,
            "client_name": ANY_TEXT | JSON_VALUES,
            "logo_uri": st.sampled_from(["https://app.example/l.png", "http://app.example/l.png", "data:x"])
            | JSON_VALUES,
            "client_uri": st.sampled_from(["https://app.example/", "javascript:x"]) | JSON_VALUES,
            "token_endpoint_auth_method": st.sampled_from(["none", "client_secret_basic", "private_key_jwt"])
            | JSON_VALUES,
            "client_secret": JSON_VALUES,
        },
    ),
)


@fuzz(1)
@given(st.one_of(JSON_DOCUMENTS.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)))
def test_a_client_metadata_document_gives_metadata_or_a_document_error(body: bytes) -> None:
    try:
        found = client_documents.parse_json(CLIENT_ID, body)
    except DocumentError:
        return
    _checked_metadata(found, need_uris=False)
    assert all(isinstance(uri, str) for uri in found.redirect_uris)


@fuzz(0.75)
@given(st.lists(SIMPLE_URIS, min_size=1, max_size=5), st.text(st.characters(exclude_categories=["Cs"]), max_size=150))
def test_a_client_metadata_document_round_trips(uris: list[str], name: str) -> None:
    document = {"client_id": CLIENT_ID, "redirect_uris": uris, "client_name": name}
    found = client_documents.parse(
        CLIENT_ID, _fetched(json.dumps(document).encode(), "application/json"), allow_private=False
    )
    assert found.redirect_uris == tuple(dict.fromkeys(uris))
    assert found.name == (re.sub(r"\s+", " ", name).strip()[:100] or CLIENT_ID)


HTML_PIECES = st.sampled_from(
    [
        '<link rel="redirect_uri" href="/cb">',
        '<link rel="redirect_uri" href="https://app.example/cb2">',
        '<link rel="redirect_uri other" href="com.example.app:/cb">',
        '<link rel="redirect_uri" href="javascript:alert(1)">',
        '<link rel="redirect_uri" href="http://[oops/">',
        '<link rel="redirect_uri">',
        '<a rel="redirect_uri" href="/a-cb">x</a>',
        f'<div class="h-app"><a class="u-url p-name" href="{CLIENT_ID}">My <b>App</b></a></div>',
        f'<div class="h-app"><a class="u-url" href="{CLIENT_ID}/"></a><img class="u-logo" src="/logo.png"></div>',
        f'<div class="h-x-app"><span class="p-name">  Spaced\n\tName  </span><a class="u-url" href="{CLIENT_ID}">'
        "</a></div>",
        '<div class="h-app"><a class="u-url p-name" href="https://other.example/">Impostor</a></div>',
        '<div class="h-app h-card"><div class="h-app"><div class="h-app">',
        "<script>alert(1)</script>",
        '<!-- <link rel="redirect_uri" href="/hidden"> -->',
        '<base href="https://evil.test/">',
        "</head><body>",
        "<![CDATA[",
        "<html",
        "\x00",
        "&#0;&#xD800;&bogus;",
    ]
)
HTML_BODIES = st.one_of(
    st.lists(HTML_PIECES | st.text(max_size=20), max_size=12).map(lambda parts: "".join(parts).encode()),
    st.binary(max_size=300),
    st.just(b"<div>" * 3000),
    st.just(b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00"),
)


@fuzz(0.5)
@given(
    HTML_BODIES,
    st.lists(LINK_HEADERS, max_size=2),
    st.sampled_from(["text/html", "application/xhtml+xml", "text/plain", "application/json", ""]),
)
def test_a_client_page_gives_metadata_or_a_document_error(body: bytes, link: list[str], content_type: str) -> None:
    try:
        found = client_documents.parse(CLIENT_ID, _fetched(body, content_type, link), allow_private=False)
    except DocumentError:
        return
    _checked_metadata(found, need_uris=True)


NAMES_ON_PAGES = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=120)


@fuzz(0.5)
@given(
    NAMES_ON_PAGES, st.lists(SIMPLE_URIS | st.sampled_from(REGISTERED), min_size=1, max_size=4), st.integers(1, 65535)
)
def test_the_cli_client_page_round_trips_through_the_server_parser(name: str, uris: list[str], port: int) -> None:
    client_id = client_ids.normalize(f"http://127.0.0.1:{port}/", allow_private=True)  # as the server has it
    page = client_page(name, f"http://127.0.0.1:{port}/", uris).encode()
    fetched = Fetched(client_id, "text/html", httpx.Headers(), page)
    found = client_documents.parse(client_id, fetched, allow_private=True)
    assert found.redirect_uris == tuple(dict.fromkeys(uris))
    assert found.name == (" ".join(name.split())[:100] or client_id)


CACHE_HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["cache-control", "expires", "Cache-Control"]),
        st.sampled_from(
            [
                "max-age=60",
                "max-age=99999999999999",
                "s-maxage=10, max-age=5",
                "no-store",
                "private, max-age=60",
                'max-age="30"',
                "max-age=-1",
                "Thu, 01 Jan 1970 00:00:00 GMT",
                "Fri, 31 Dec 9999 23:59:59 GMT",
                "Mon, 99 Foo 2024 99:99:99 GMT",
                "Mon, 01 Jan 0001 00:00:00 +0100",
                "Fri, 31 Dec 9999 23:59:59 -2359",
                "0",
            ]
        )
        | st.text(st.characters(codec="latin-1"), max_size=40),
    ),
    max_size=3,
)


@fuzz(0.75)
@given(CACHE_HEADERS, st.integers(0, 2**33))
def test_a_page_lifetime_is_between_zero_and_a_day(headers: list[tuple[str, str]], now: int) -> None:
    raw = [(name, value.encode("latin-1")) for name, value in headers]  # as bytes, as from the wire
    assert 0 <= lifetime(httpx.Headers(raw), now=now) <= MAX_TTL


# ---------------------------------------------------------------- MiAuth requests and login's next


@fuzz(0.75)
@given(
    st.uuids().map(str) | ANY_TEXT,
    st.dictionaries(
        st.sampled_from(["name", "callback", "permission", "icon"]),
        st.sampled_from(["read:account,write:notes", "https://app.example/done", "javascript:x", "com.app:/x"])
        | ANY_TEXT,
        max_size=4,
    ),
)
def test_a_miauth_request_is_checked_or_refused_with_an_oauth_error(session: str, params: dict[str, str]) -> None:
    try:
        checked = miauth.check_request(session, params, scopes.DEFAULT_SCOPES)
    except OAuthError as error:
        assert error.status == 400
        return
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,128}", checked.session) and checked.scope
    assert 0 < len(checked.name) <= 100 and checked.name == checked.name.strip()
    if checked.callback is not None:
        redirects.check_registrable(checked.callback)


@fuzz(1)
@given(
    st.none()
    | st.sampled_from(["/", "//evil.test", "/\\evil.test", "/\t/evil.test", "https://evil.test", "/ok?x=//y"])
    | ANY_TEXT
)
def test_login_sends_people_only_to_paths_of_this_site(target: str | None) -> None:
    found = safe_next(target)
    browser = re.sub(r"[\t\n\r]", "", found).replace("\\", "/")  # what a browser makes of a Location
    assert found.startswith("/") and not browser.startswith("//") and not urlsplit(browser).netloc, found


# ---------------------------------------------------------------- resource side: tokens, JWTs, JWKS, introspection


@fuzz(0.75)
@given(ANY_TEXT | st.just("x" * 5000) | st.just("sek_rt_" + "a" * 43))
def test_a_token_of_the_wrong_shape_is_invalid_token(token: str) -> None:
    try:
        check_shape(token)
    except InvalidToken:
        return
    assert token.isascii() and token.isprintable() and " " not in token and not token.startswith("sek_rt_")


KEY = jwt_access.new_signing_key("k1")
OTHER_KEY = jwt_access.new_signing_key("k2")
KEYS = KeySet([KEY])
NOW = 1_800_000_000
CLAIMS = st.builds(
    jwt_access.AccessClaims,
    issuer=st.just("https://as.example"),
    subject=st.text(min_size=1, max_size=20),
    audience=st.just("https://rs.example"),
    client_id=st.text(min_size=1, max_size=20),
    scope=st.text(max_size=30),
    issued_at=st.integers(NOW - 1000, NOW),
    expires_at=st.integers(NOW + 1, NOW + 10_000),
    jwt_id=st.text(min_size=1, max_size=20),
)


def _verify(token: str) -> jwt_access.AccessClaims:
    return jwt_access.verify(token, KEYS, issuer="https://as.example", audience="https://rs.example", now=NOW)


@fuzz(0.75)
@given(CLAIMS)
def test_signed_access_claims_round_trip(claims: jwt_access.AccessClaims) -> None:
    assert _verify(jwt_access.sign(claims, KEY)) == claims
    with pytest.raises(InvalidToken):
        _verify(jwt_access.sign(claims, OTHER_KEY))


@fuzz(1)
@given(CLAIMS, st.integers(0, 600), st.sampled_from(["", "A", ".", "=", "-", "_"]), st.data())
def test_a_changed_jwt_is_invalid_token(
    claims: jwt_access.AccessClaims, at: int, char: str, data: st.DataObject
) -> None:
    token = jwt_access.sign(claims, KEY)
    at = at % len(token)
    changed = token[:at] + char + token[at + 1 :]
    assume(changed != token)
    try:
        found = _verify(changed)
    except InvalidToken:
        return
    assert found == claims  # base64url has a few spellings of the same last bits; they carry the same claims


HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["ES256", "none", "HS256", "RS256", "es256"]) | JSON_VALUES,
        "typ": st.sampled_from(["at+jwt", "AT+JWT", "application/at+jwt", "JWT"]) | JSON_VALUES,
        "kid": st.sampled_from(["k1", "k2"]) | JSON_VALUES,
        "crit": JSON_VALUES,
        "b64": JSON_VALUES,
    },
)
CLAIM_DICTS = st.fixed_dictionaries(
    {},
    optional={
        name: st.sampled_from(values) | JSON_VALUES
        for name, values in {
            "iss": ["https://as.example", "https://other.example"],
            "aud": ["https://rs.example", ["https://rs.example"], []],
            "sub": ["alice"],
            "client_id": ["app"],
            "jti": ["j1"],
            "scope": ["read:account", ""],
            "exp": [NOW + 60, NOW, NOW - 1, 2**63, True, 1.5],
            "iat": [NOW, NOW + 60, -1, False],
            "nbf": [NOW, NOW + 60, "soon"],
        }.items()
    },
)


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@fuzz(0.5)
@given(HEADERS, CLAIM_DICTS, st.sampled_from(["sign", "unsigned", "garbage"]))
def test_any_jwt_gives_claims_or_invalid_token(header: dict[str, Any], claims: dict[str, Any], how: str) -> None:
    if how == "sign":
        try:
            token = jwt.encode(
                {**header, "alg": "ES256", "kid": header.get("kid", "k1")}, claims, KEY, algorithms=["ES256"]
            )
        except Exception:  # joserfc refuses some headers outright: not what this test is about  # noqa: BLE001
            assume(False)
    else:
        signature = "" if how == "unsigned" else "AAAA"
        token = f"{_segment(header)}.{_segment(claims)}.{signature}"
    try:
        found = _verify(token)
    except InvalidToken:
        return
    assert found.issuer == "https://as.example" and found.expires_at > NOW


@fuzz(0.75)
@given(ANY_TEXT | st.from_regex(r"[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}", fullmatch=True))
def test_a_jwt_header_is_read_or_invalid_token(token: str) -> None:
    try:
        header = jwt_access.unverified_header(token)
    except InvalidToken:
        return
    assert isinstance(header, dict)


PUBLIC_JWK = KEY.as_dict(private=False)
JWKS_DOCUMENTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {
            "keys": st.lists(
                st.one_of(
                    st.just(PUBLIC_JWK),
                    st.dictionaries(st.sampled_from(list(PUBLIC_JWK) + ["d", "use", "alg"]), JSON_VALUES, max_size=6),
                    st.builds(
                        lambda name, value: {**PUBLIC_JWK, name: value},
                        st.sampled_from(["x", "y", "crv", "kty", "kid", "use", "alg", "key_ops"]),
                        st.sampled_from(["", "AAAA", "P-384", "RSA", "enc", "none", "!!"]) | JSON_VALUES,
                    ),
                ),
                max_size=4,
            )
            | JSON_VALUES
        }
    ),
)


@fuzz(1)
@given(JWKS_DOCUMENTS, st.sampled_from([("ES256",), ("ES256", "RS256"), ("EdDSA",), ("PS256",)]))
def test_a_jwks_gives_usable_keys_or_temporarily_unavailable(document: Any, algorithms: tuple[str, ...]) -> None:
    try:
        keys = usable_keys(document, algorithms)
    except TemporarilyUnavailable:
        return
    assert all(isinstance(key.kid, str) for key in keys)


ANSWERS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"active": st.booleans() | JSON_VALUES},
        optional={
            "client_id": st.just("app") | JSON_VALUES,
            "scope": st.just("read:account write:notes") | JSON_VALUES,
            "exp": st.sampled_from([NOW + 60, NOW, True, 1e20, "1"]) | JSON_VALUES,
            "sub": st.just("u1") | JSON_VALUES,
            "token_type": st.sampled_from(["Bearer", "refresh_token"]) | JSON_VALUES,
        },
    ),
)


@fuzz(1)
@given(ANSWERS)
def test_an_introspection_answer_gives_token_info_or_a_refusal(answer: Any) -> None:
    try:
        info = parse_answer(answer, NOW)
    except (InvalidToken, TemporarilyUnavailable):
        return
    assert answer["active"] is True and info.expires_at > NOW and isinstance(info.client_id, str)
    assert " ".join(info.scope) == " ".join(str(answer.get("scope") or "").split())


# ---------------------------------------------------------------- SSRF address rules


ADDRESSES = st.one_of(st.ip_addresses(), st.ip_addresses(v=4).map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}")))


@fuzz(0.75)
@given(ADDRESSES)
def test_an_ipv4_address_is_judged_alike_in_every_ipv6_wrapping(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    public = is_public(address)
    if isinstance(address, ipaddress.IPv4Address):
        assert is_public(ipaddress.IPv6Address(f"::ffff:{address}")) == public
        assert is_public(ipaddress.IPv6Address(f"2002:{int(address) >> 16:x}:{int(address) & 0xFFFF:x}::")) == public
        assert is_public(ipaddress.IPv6Address(f"64:ff9b::{address}")) == public
    if public:
        assert not (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast)
