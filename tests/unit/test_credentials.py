"""sekisho.protocol.credentials: client credentials in the Authorization header (RFC 6749 §2.3.1)."""

from __future__ import annotations

import base64

import pytest

from sekisho.errors import InvalidClient
from sekisho.protocol.credentials import parse_basic


def basic(raw: bytes | str) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return "Basic " + base64.b64encode(data).decode()


def test_plain_credentials() -> None:
    assert parse_basic(basic("client-1:sek_cs_secret")) == ("client-1", "sek_cs_secret")


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    assert parse_basic(f"{scheme} " + base64.b64encode(b"id:s").decode()) == ("id", "s")


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_basic("  Basic   " + base64.b64encode(b"id:s").decode() + "  ") == ("id", "s")


def test_parts_are_form_urlencoded() -> None:
    # RFC 6749 §2.3.1: client_id and secret are encoded with application/x-www-form-urlencoded first.
    assert parse_basic(basic("my%20client:s%2Bcr%3Aet%25")) == ("my client", "s+cr:et%")


def test_plus_means_space() -> None:
    assert parse_basic(basic("a+b:c+d")) == ("a b", "c d")


def test_percent_encoded_utf8() -> None:
    assert parse_basic(basic("%E6%97%A5:%C3%A9")) == ("日", "é")


def test_url_client_id() -> None:
    client_id = "https://app.example/client.json"
    encoded = "https%3A%2F%2Fapp.example%2Fclient.json"
    assert parse_basic(basic(f"{encoded}:s")) == (client_id, "s")


def test_secret_may_contain_colons() -> None:
    assert parse_basic(basic("id:se:cr:et")) == ("id", "se:cr:et")


def test_empty_secret_is_returned_as_empty() -> None:
    assert parse_basic(basic("id:")) == ("id", "")


@pytest.mark.parametrize("header", ["Bearer abc", "Digest username=x", "Token YWJjOmRlZg==", "Basicabc"])
def test_other_schemes_give_none(header: str) -> None:
    assert parse_basic(header) is None


@pytest.mark.parametrize(
    "encoded",
    ["!!!", "YWJj\x00", "aWQ6cw", "a", "aWQ6cw==garbage", "aWQ6 cw==", "aWQ6cw==="],
)
def test_bad_base64_is_invalid_client(encoded: str) -> None:
    with pytest.raises(InvalidClient) as caught:
        parse_basic("Basic " + encoded)
    assert caught.value.error == "invalid_client"
    assert caught.value.status == 401
    assert caught.value.description == "the Basic credentials are not valid base64"


def test_not_utf8_is_invalid_client() -> None:
    with pytest.raises(InvalidClient) as caught:
        parse_basic(basic(b"\xff\xfe:\xfd"))
    assert caught.value.description == "the Basic credentials are not valid base64"


@pytest.mark.parametrize("raw", ["nocolon", ":secret", "", ":"])
def test_missing_colon_or_client_id_is_invalid_client(raw: str) -> None:
    with pytest.raises(InvalidClient) as caught:
        parse_basic(basic(raw))
    assert caught.value.status == 401
    assert caught.value.description == "the Basic credentials must be client_id:client_secret"


def test_scheme_without_credentials_is_invalid_client() -> None:
    with pytest.raises(InvalidClient):
        parse_basic("Basic")


@pytest.mark.parametrize("raw", ["a\x00b:secret", "a%00b:secret", "app:se%0Acret", "app%7F:x"])
def test_control_characters_are_invalid_client(raw: str) -> None:
    # Found by fuzzing (tests/server/test_fuzz.py on PostgreSQL): a NUL in the client_id failed the look-up, a 500.
    with pytest.raises(InvalidClient) as caught:
        parse_basic(basic(raw))
    assert caught.value.status == 401
    assert caught.value.description == "the Basic credentials contain control characters"
