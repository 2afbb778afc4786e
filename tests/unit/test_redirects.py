"""sekisho.protocol.redirects: registration rules, matching (RFC 6749 §3.1.2, RFC 8252 §7.3), building."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from sekisho.errors import InvalidRequest
from sekisho.protocol.redirects import build_redirect, check_registrable, host_of, is_loopback, matches

# ---------------------------------------------------------------- check_registrable


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/callback",
        "https://app.example:8443/cb?mode=web",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:8080/callback",
        "http://[::1]/callback",
        "http://[::1]:9000/callback",
        "http://localhost:3000/callback",
        "com.example.app:/oauth2redirect",  # RFC 8252 §7.1 private-use scheme
    ],
)
def test_registrable(uri: str) -> None:
    assert check_registrable(uri) == uri


@pytest.mark.parametrize("uri", ["https://app.example/cb#frag", "https://app.example/cb#", "com.example.app:/cb#x"])
def test_fragment_is_refused_at_registration(uri: str) -> None:
    # RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
    with pytest.raises(InvalidRequest) as caught:
        check_registrable(uri)
    assert caught.value.error == "invalid_request"
    assert caught.value.description == f"redirect URI {uri!r} must not contain a fragment"


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("javascript:alert(1)", "javascript"),
        ("JavaScript:alert(1)", "javascript"),
        ("javascript://app.example/%0aalert(1)", "javascript"),
        ("data:text/html,<script>alert(1)</script>", "data"),
        ("DATA:text/html;base64,PHNjcmlwdD4=", "data"),
        ("file:///etc/passwd", "file"),
        ("vbscript:msgbox(1)", "vbscript"),
        ("about:blank", "about"),
        ("blob:https://app.example/uuid", "blob"),
    ],
)
def test_dangerous_scheme_is_refused_at_registration(uri: str, scheme: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_registrable(uri)
    assert caught.value.description == f"redirect URI scheme {scheme!r} is not allowed"


@pytest.mark.parametrize(
    "uri", ["/callback", "callback", "//app.example/cb", "", "https://app.example/a b", " https://x.example/"]
)
def test_relative_or_spaced_uri_is_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest, match="must be an absolute URI"):
        check_registrable(uri)


@pytest.mark.parametrize("uri", ["http://app.example/cb", "http://127.0.0.1.evil.example/cb", "http://10.0.0.1/cb"])
def test_plain_http_is_refused_except_for_loopback(uri: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_registrable(uri)
    assert caught.value.description == f"redirect URI {uri!r} must use https (http only for loopback)"


@pytest.mark.parametrize("uri", ["https:///cb", "http:///cb", "https://:443/cb"])
def test_http_uri_without_host_is_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest, match="has no host"):
        check_registrable(uri)


@pytest.mark.parametrize("uri", ["https://app.example:99999/cb", "https://app.example:port/cb", "https://[::1/cb"])
def test_unparseable_uri_is_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest, match="is not a valid URI"):
        check_registrable(uri)


USERINFO = [
    "https://good@evil.example/cb",
    "https://good.example@evil.example/cb",
    "https://good%40x@evil.example/cb",
    "https://good:pass@evil.example/cb",
    "https://@evil.example/cb",
    "http://127.0.0.1:8080@evil.example/cb",
    "http://user@127.0.0.1:8080/cb",
    "com.example.app://good@evil.example/cb",
]


@pytest.mark.parametrize("uri", USERINFO)
def test_userinfo_is_refused_at_registration(uri: str) -> None:
    """Issue 21 finding 6: "https://good@evil.example/" reads as good but goes to evil.example."""
    with pytest.raises(InvalidRequest) as caught:
        check_registrable(uri)
    assert caught.value.description == f"redirect URI {uri!r} must not contain userinfo (a name before @)"


@pytest.mark.parametrize("uri", USERINFO)
def test_userinfo_never_matches_even_when_registered_before_the_rule(uri: str) -> None:
    """Issue 21 finding 6: a URI with userinfo stored by an older version is not accepted in a request either."""
    assert not matches(uri, [uri], port_may_vary=True)


@pytest.mark.parametrize(
    ("uri", "what"),
    [
        ("https://evil.example\\@good.example/cb", "a backslash"),
        ("https://evil.example\\good.example/cb", "a backslash"),
        ("https://good%2Eexample/cb", "a %-escape"),
        ("https://good.example%2F.evil.example/cb", "a %-escape"),
        ("https://[fe80::1%25eth0]/cb", "a %-escape"),
    ],
)
def test_a_backslash_or_escape_in_the_host_is_refused_at_registration(uri: str, what: str) -> None:
    """Issue 21 finding 6: browsers read "\\" as "/" and decode %-escapes: the host read is not the host visited."""
    with pytest.raises(InvalidRequest) as caught:
        check_registrable(uri)
    assert caught.value.description == f"redirect URI {uri!r} must not contain {what} in its host"
    assert not matches(uri, [uri], port_may_vary=True)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:08080/cb",
        "http://[::1]:0/cb",
        "http://[::1]:09000/cb",
        "https://app.example:0443/cb",
        "https://app.example:0/cb",
        "https://app.example:/cb",
    ],
)
def test_port_zero_leading_zeros_and_an_empty_port_are_refused_at_registration(uri: str) -> None:
    """Issue 21 (loopback): port 0 and "08080" are refused, as is "host:" with no port after the colon."""
    with pytest.raises(InvalidRequest) as caught:
        check_registrable(uri)
    assert caught.value.description == f"redirect URI {uri!r} must have a port from 1 to 65535 without leading zeros"


# ---------------------------------------------------------------- host_of


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("https://app.example/cb", "app.example"),
        ("https://APP.example:8443/cb", "app.example:8443"),
        ("http://[::1]:7000/cb", "[::1]:7000"),
        ("https://good@evil.example/", "evil.example"),
        ("https://good%40x@evil.example/", "evil.example"),
        ("https://good.example:443@evil.example/", "evil.example"),
        ("https://evil.example\\@good.example/", "evil.example"),
        ("https://a@b@evil.example/", "evil.example"),
        ("com.example.app:/cb", ""),
        ("http://[oops", ""),
    ],
)
def test_host_of_is_the_host_a_browser_goes_to(uri: str, host: str) -> None:
    """Issue 21 finding 6: the consent page names the host the browser is sent to, never the userinfo."""
    assert host_of(uri) == host


# ---------------------------------------------------------------- is_loopback


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1/cb", True),
        ("http://127.0.0.1:51000/cb", True),
        ("http://[::1]/cb", True),
        ("http://[::1]:51000/cb", True),
        ("http://localhost/cb", False),
        ("http://localhost:51000/cb", False),
        ("https://127.0.0.1/cb", False),
        ("https://[::1]:51000/cb", False),
        ("http://127.0.0.2/cb", False),
        ("http://127.0.0.1.evil.example/cb", False),
        ("http://127.0.0.1:80@evil.example/cb", False),
        ("com.example.app:/cb", False),
    ],
)
def test_is_loopback(uri: str, expected: bool) -> None:
    assert is_loopback(uri) is expected


# ---------------------------------------------------------------- matches

REGISTERED = ["https://app.example/callback", "http://127.0.0.1/cb", "http://[::1]:7000/cb?x=1"]


def test_exact_match() -> None:
    assert matches("https://app.example/callback", REGISTERED, port_may_vary=True)
    assert matches("https://app.example/callback", REGISTERED, port_may_vary=False)


@pytest.mark.parametrize(
    "requested",
    [
        "https://app.example/callback/",
        "https://app.example/Callback",
        "https://APP.example/callback",
        "https://app.example:443/callback",
        "https://app.example/callback?x=1",
        "https://app.example/callback#",
        "https://app.example/callback/../callback",
        "https://app.example/callback%2F",
        "https://app.example.evil.example/callback",
        "https://app.example:8443/callback",
        "http://app.example/callback",
    ],
)
def test_anything_but_the_exact_string_is_refused(requested: str) -> None:
    assert not matches(requested, REGISTERED, port_may_vary=True)


@pytest.mark.parametrize(
    ("requested", "registered"),
    [
        ("http://127.0.0.1:51000/cb", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb"),
        ("http://127.0.0.1:1/cb", "http://127.0.0.1:65535/cb"),
        ("http://[::1]:51000/cb", "http://[::1]/cb"),
        ("http://[::1]:51000/cb?x=1", "http://[::1]:7000/cb?x=1"),
    ],
)
def test_loopback_ip_port_may_vary_for_a_public_client(requested: str, registered: str) -> None:
    # RFC 8252 §7.3: any port for loopback IP redirect URIs.
    assert matches(requested, [registered], port_may_vary=True)


@pytest.mark.parametrize(
    ("requested", "registered"),
    [
        ("http://127.0.0.1/cb", "http://127.0.0.1:8080/cb"),
        ("http://[::1]/cb", "http://[::1]:7000/cb"),
        ("http://[::1]/cb?x=1", "http://[::1]:7000/cb?x=1"),
    ],
)
def test_a_registered_loopback_port_may_change_but_not_vanish(requested: str, registered: str) -> None:
    """Issue 21 (loopback): without its port the URI is port 80, where the app registered another port."""
    assert not matches(requested, [registered], port_may_vary=True)
    assert matches(requested.replace("/cb", ":51000/cb", 1), [registered], port_may_vary=True)


@pytest.mark.parametrize(
    ("requested", "registered"),
    [
        ("http://127.0.0.1:51000/cb", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:51000/cb", "http://127.0.0.1:8080/cb"),
        ("http://[::1]:51000/cb", "http://[::1]/cb"),
    ],
)
def test_a_confidential_clients_loopback_uri_is_matched_exactly(requested: str, registered: str) -> None:
    """Issue 21 (loopback): port variance is for native apps (public clients, RFC 8252 §7.3), not others."""
    assert not matches(requested, [registered], port_may_vary=False)
    assert matches(registered, [registered], port_may_vary=False)


@pytest.mark.parametrize(
    "requested",
    [
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:08080/cb",
        "http://127.0.0.1:00080/cb",
        "http://[::1]:0/cb",
        "http://[::1]:07000/cb",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:000000000008080/cb",
    ],
)
def test_port_zero_leading_zeros_and_an_empty_port_never_match(requested: str) -> None:
    """Issue 21 (loopback): port 0 means "any" to a socket; "08080" is read differently by different parsers."""
    assert not matches(requested, ["http://127.0.0.1/cb", "http://[::1]/cb"], port_may_vary=True)
    # Not even a URI registered before the rule existed matches itself.
    assert not matches(requested, [requested], port_may_vary=True)


@pytest.mark.parametrize(
    ("requested", "registered"),
    [
        ("http://localhost:51000/cb", "http://localhost:3000/cb"),  # not an IP literal
        ("http://localhost:51000/cb", "http://localhost/cb"),
        ("https://127.0.0.1:51000/cb", "https://127.0.0.1/cb"),  # not http
        ("https://[::1]:51000/cb", "https://[::1]/cb"),
        ("https://app.example:8443/callback", "https://app.example/callback"),
    ],
)
def test_port_may_not_vary_elsewhere(requested: str, registered: str) -> None:
    assert not matches(requested, [registered], port_may_vary=True)


@pytest.mark.parametrize(
    ("requested", "registered"),
    [
        ("http://127.0.0.1:51000/other", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:51000/cb/", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:51000/cb?x=1", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:51000/cb", "http://127.0.0.1/cb?x=1"),
        ("http://[::1]:51000/cb?x=2", "http://[::1]:7000/cb?x=1"),
        ("http://[::1]:51000/cb", "http://127.0.0.1/cb"),  # the other loopback address
        ("http://127.0.0.1:51000/cb", "http://[::1]/cb"),
        ("http://127.0.0.1:51000/cb#frag", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:51000/cb", "http://localhost/cb"),
    ],
)
def test_loopback_path_query_and_address_must_still_match(requested: str, registered: str) -> None:
    assert not matches(requested, [registered], port_may_vary=True)


@pytest.mark.parametrize(
    "requested",
    [
        "http://evil@127.0.0.1:51000/cb",  # userinfo is not the port
        "http://127.0.0.1:abc/cb",  # not a port at all
        "http://127.0.0.1:99999/cb",  # out of range
        "http://127.0.0.1:+80/cb",
        "http://127.0.0.1:51000\\evil.example/cb",  # browsers read the backslash as '/', so the path differs
    ],
)
def test_only_a_valid_port_may_vary(requested: str) -> None:
    assert not matches(requested, ["http://127.0.0.1/cb"], port_may_vary=True)


@pytest.mark.parametrize(
    "requested",
    [" http://127.0.0.1/cb", "\x01http://127.0.0.1:5000/cb", "http://127.0.0.1:5000/c\tb", "http://127.0.0.1/cb\n"],
)
def test_whitespace_and_controls_are_not_stripped_into_a_match(requested: str) -> None:
    # Found by fuzzing (tests/unit/test_fuzz_parsers.py): urlsplit strips these, so " http://127.0.0.1/cb" matched.
    assert not matches(requested, ["http://127.0.0.1/cb"], port_may_vary=True)


def test_no_registered_uris_matches_nothing() -> None:
    assert not matches("https://app.example/callback", [], port_may_vary=True)
    assert not matches("http://127.0.0.1:5000/cb", [], port_may_vary=True)


def test_registered_may_be_any_iterable() -> None:
    registered = iter(["https://app.example/callback", "http://127.0.0.1/cb"])
    assert matches("http://127.0.0.1:5000/cb", registered, port_may_vary=True)


# ---------------------------------------------------------------- build_redirect


def test_build_adds_parameters() -> None:
    uri = build_redirect("https://app.example/cb", {"code": "sek_ac_1", "state": "xyz", "iss": "https://auth.example"})
    assert uri == "https://app.example/cb?code=sek_ac_1&state=xyz&iss=https%3A%2F%2Fauth.example"


def test_build_keeps_an_existing_query() -> None:
    # RFC 6749 §3.1.2: the query component MUST be retained when adding parameters.
    uri = build_redirect("https://app.example/cb?mode=web&x=1", {"code": "c"})
    assert uri == "https://app.example/cb?mode=web&x=1&code=c"


def test_build_leaves_out_none_values() -> None:
    assert build_redirect("https://app.example/cb", {"error": "access_denied", "state": None}) == (
        "https://app.example/cb?error=access_denied"
    )


def test_build_encodes_values() -> None:
    uri = build_redirect("http://127.0.0.1:5000/cb", {"state": "a&b=c #d", "error_description": "no way"})
    assert parse_qsl(urlsplit(uri).query) == [("state", "a&b=c #d"), ("error_description", "no way")]
    assert uri.startswith("http://127.0.0.1:5000/cb?")
    assert "#" not in uri


def test_build_with_no_parameters_keeps_the_uri() -> None:
    assert build_redirect("https://app.example/cb?x=1", {}) == "https://app.example/cb?x=1"


def test_build_keeps_private_use_scheme() -> None:
    assert build_redirect("com.example.app:/cb", {"code": "c"}) == "com.example.app:/cb?code=c"
