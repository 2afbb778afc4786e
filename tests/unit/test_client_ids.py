"""URL client ids: the syntax rules and the one normalisation (CONTRACT.md §3, SECURITY.md "URL client ids")."""

from __future__ import annotations

import pytest

from sekisho.errors import InvalidClient
from sekisho.protocol.client_ids import MAX_LENGTH, is_url, normalize


def refused(client_id: str, *, allow_private: bool = False) -> str:
    with pytest.raises(InvalidClient) as caught:
        normalize(client_id, allow_private=allow_private)
    assert caught.value.error == "invalid_client" and caught.value.status == 400
    return caught.value.description


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://app.example", "https://app.example/"),  # IndieAuth: no path is the path "/"
        ("https://app.example/", "https://app.example/"),
        ("https://APP.Example/", "https://app.example/"),  # host lowercased
        ("HTTPS://app.example/", "https://app.example/"),  # scheme lowercased
        ("https://app.example:443/", "https://app.example/"),  # default port dropped
        ("https://app.example:443", "https://app.example/"),
        ("https://app.example:8443/", "https://app.example:8443/"),  # other ports kept
        ("https://app.example./", "https://app.example/"),  # the root label's dot
        ("https://app.example/client", "https://app.example/client"),
        ("https://app.example/client/", "https://app.example/client/"),  # a trailing slash on a path is kept
        ("https://app.example/Client", "https://app.example/Client"),  # the path keeps its case
        ("https://app.example/c?x=1&y=2", "https://app.example/c?x=1&y=2"),  # the query is kept
        ("https://app.example/?", "https://app.example/"),  # an empty query is no query
        ("https://app.example/a%20b", "https://app.example/a%20b"),  # percent-encoding is left alone
    ],
)
def test_normalisation(given: str, canonical: str) -> None:
    assert normalize(given, allow_private=False) == canonical
    assert normalize(canonical, allow_private=False) == canonical  # idempotent


def test_with_and_without_slash_are_one_client() -> None:
    assert normalize("https://app.example", allow_private=False) == normalize(
        "https://app.example/", allow_private=False
    )


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("http://127.0.0.1:8000/app", "http://127.0.0.1:8000/app"),
        ("http://127.0.0.1", "http://127.0.0.1/"),
        ("http://127.0.0.1:80/", "http://127.0.0.1/"),  # http's default port dropped
        ("http://localhost:3000", "http://localhost:3000/"),
        ("http://LOCALHOST:3000/", "http://localhost:3000/"),
        ("http://[::1]:8000/", "http://[::1]:8000/"),
        ("http://app.localhost/", "http://app.localhost/"),
        ("https://127.0.0.1/", "https://127.0.0.1/"),
    ],
)
def test_private_allowed(given: str, canonical: str) -> None:
    assert normalize(given, allow_private=True) == canonical


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("http://app.example/", "must be an https URL"),
        ("ftp://app.example/", "must be an https URL"),
        ("javascript://app.example/%0aalert(1)", "must be an https URL"),
        ("https://app.example/#frag", "must not have a fragment"),
        ("https://app.example/#", "must not have a fragment"),
        ("https://user@app.example/", "must not contain a user name or password"),
        ("https://user:pw@app.example/", "must not contain a user name or password"),
        ("https://app.example/./a", "must not contain . or .. path segments"),
        ("https://app.example/a/../b", "must not contain . or .. path segments"),
        ("https://app.example/a/..", "must not contain . or .. path segments"),
        ("https://app.example/a/.", "must not contain . or .. path segments"),
        ("https://app.example\\@evil.example/", "must not contain spaces, control characters or backslashes"),
        ("https://app.example/a\\b", "must not contain spaces, control characters or backslashes"),
        ("https://app.example/a b", "must not contain spaces, control characters or backslashes"),
        ("https://app.example/\n", "must not contain spaces, control characters or backslashes"),
        ("https://app.example/\x00", "must not contain spaces, control characters or backslashes"),
        ("https:///path", "must have a host"),
        ("https://:443/", "must have a host"),
        ("https://app.example:99999/", "is not a valid URL"),
        ("https://app.example:port/", "is not a valid URL"),
        ("https://[::1/", "is not a valid URL"),
        ("https://127.0.0.1/", "must use a domain name, not an IP address"),
        ("https://8.8.8.8/", "must use a domain name, not an IP address"),
        ("https://[2001:4860:4860::8888]/", "must use a domain name, not an IP address"),
        ("https://[::1]/", "must use a domain name, not an IP address"),
        ("https://localhost/", "must not point at this machine"),
        ("https://app.localhost/", "must not point at this machine"),
        ("https://LOCALHOST./", "must not point at this machine"),
        ("https://app.example/" + "a" * MAX_LENGTH, "is too long"),
    ],
)
def test_refused(client_id: str, reason: str) -> None:
    assert refused(client_id) == f"client_id {reason}"


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        # Even for development, only loopback literals: a LAN or metadata address is never a client_id.
        ("http://10.0.0.1/", "must use a domain name, not an IP address"),
        ("http://192.168.1.10:8080/", "must use a domain name, not an IP address"),
        ("http://169.254.169.254/latest/meta-data/", "must use a domain name, not an IP address"),
        ("http://127.0.0.2/", "must use a domain name, not an IP address"),
        ("http://[::ffff:127.0.0.1]/", "must use a domain name, not an IP address"),
        ("http://0.0.0.0/", "must use a domain name, not an IP address"),
        ("ftp://127.0.0.1/", "must be an https URL"),
        ("http://127.0.0.1/#x", "must not have a fragment"),
        ("http://u:p@127.0.0.1/", "must not contain a user name or password"),
        ("http://127.0.0.1/../x", "must not contain . or .. path segments"),
    ],
)
def test_refused_even_when_private_allowed(client_id: str, reason: str) -> None:
    assert refused(client_id, allow_private=True) == f"client_id {reason}"


def test_at_sign_in_the_path_is_not_userinfo() -> None:
    assert normalize("https://app.example/@alice", allow_private=False) == "https://app.example/@alice"


def test_dots_inside_segment_names_are_fine() -> None:
    assert normalize("https://app.example/a.b/..c/...", allow_private=False) == "https://app.example/a.b/..c/..."


def test_longest_allowed() -> None:
    client_id = "https://app.example/" + "a" * (MAX_LENGTH - len("https://app.example/"))
    assert len(client_id) == MAX_LENGTH
    assert normalize(client_id, allow_private=False) == client_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://app.example/", True),
        ("http://127.0.0.1/", True),
        ("sek_client_abc", False),
        ("HTTPS://app.example/", True),  # schemes are case-insensitive (RFC 3986 §3.1)
        ("app.example", False),
        ("", False),
    ],
)
def test_is_url(value: str, expected: bool) -> None:
    assert is_url(value) is expected


@pytest.mark.parametrize("path", ["/%2e%2e/x", "/a/%2E/b", "/%2e", "/.%2e/"])
def test_percent_encoded_dot_segments_are_refused(path: str) -> None:
    with pytest.raises(InvalidClient, match="path segments"):
        normalize("https://app.example" + path, allow_private=False)


def test_registered_client_ids_never_look_like_options() -> None:
    from sekisho.server.registry import new_client_id

    assert not any(new_client_id().startswith("-") for _ in range(5000))


def test_a_json_document_may_name_the_client_id_as_the_client_sent_it() -> None:
    from sekisho.server.client_documents import DocumentError, parse_json

    body = b'{"client_id": "https://app.example", "redirect_uris": ["https://app.example/cb"]}'
    found = parse_json("https://app.example/", body, requested="https://app.example")
    assert found.redirect_uris == ("https://app.example/cb",)
    with pytest.raises(DocumentError):
        parse_json("https://app.example/", body, requested="https://app.example/")
