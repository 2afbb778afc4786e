"""sekisho.protocol.bearer: `Authorization: Bearer` (RFC 6750 §2.1) and challenges (RFC 6750 §3)."""

from __future__ import annotations

import pytest

from sekisho.protocol.bearer import MAX_TOKEN_LENGTH, challenge, parse_authorization

TOKEN = "sek_at_Zm9vYmFy-._~+/"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    assert parse_authorization(f"{scheme} {TOKEN}") == TOKEN


@pytest.mark.parametrize("token", ["abc", "abc==", "a.b.c", "sek_at_" + "x" * 43, "A-Z_a~z+0/9="])
def test_b64token_is_returned(token: str) -> None:
    assert parse_authorization(f"Bearer {token}") == token


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_authorization(f"  Bearer   {TOKEN}  ") == TOKEN


def test_token_at_the_length_limit_is_accepted_and_one_more_refused() -> None:
    assert parse_authorization("Bearer " + "a" * MAX_TOKEN_LENGTH) == "a" * MAX_TOKEN_LENGTH
    assert parse_authorization("Bearer " + "a" * (MAX_TOKEN_LENGTH + 1)) is None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Bearerabc",
        "Bearer\tabc",
        "Basic YWJjOmRlZg==",
        "Token abc",
        "MAC abc",
        "Bearer abc def",
        "Bearer abc,def",
        "Bearer =abc",
        "Bearer ab=c",
        'Bearer "abc"',
        "Bearer abc\x00",
        "Bearer abé",
        "Bearer abc\r\nX-Injected: 1",
        "Bearer realm=x",
        "Bearer  ",
    ],
)
def test_malformed_headers_give_none(header: str | None) -> None:
    assert parse_authorization(header) is None


def test_challenge_without_error() -> None:
    # RFC 6750 §3.1: a request with no token gets a challenge without an error code.
    assert challenge() == 'Bearer realm="sekisho"'


def test_challenge_for_invalid_token() -> None:
    assert challenge("invalid_token", "the access token expired") == (
        'Bearer realm="sekisho", error="invalid_token", error_description="the access token expired"'
    )


def test_challenge_for_insufficient_scope() -> None:
    assert challenge("insufficient_scope", scope="write:notes read:account") == (
        'Bearer realm="sekisho", error="insufficient_scope", scope="write:notes read:account"'
    )


def test_challenge_with_everything() -> None:
    assert challenge("insufficient_scope", "needs more", "tweet.write") == (
        'Bearer realm="sekisho", error="insufficient_scope", error_description="needs more", scope="tweet.write"'
    )


def test_challenge_never_breaks_out_of_the_quoted_string() -> None:
    value = challenge("invalid_token", 'bad "token" \\ here')
    assert value == 'Bearer realm="sekisho", error="invalid_token", error_description="bad \'token\' \\\\ here"'
    description = value.split('error_description="', 1)[1]
    assert description.endswith('"')
    assert '"' not in description[:-1]


def test_challenge_is_one_header_value_whatever_the_description_or_scope() -> None:
    # Found by fuzzing (tests/unit/test_fuzz_parsers.py): a line break would split the response's headers, and a
    # character beyond Latin-1 cannot be sent at all; RFC 6750 §3 allows only %x20-7E there.
    value = challenge("insufficient_scope", "needs\r\nX-Injected: 1", "読む\x1f")
    assert value == (
        'Bearer realm="sekisho", error="insufficient_scope", error_description="needs??X-Injected: 1", scope="???"'
    )
