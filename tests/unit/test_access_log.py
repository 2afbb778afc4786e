"""The access log's redaction: no code, token, state or MiAuth session in a logged request target."""

from __future__ import annotations

import logging

import pytest

from sekisho.server.web.observe import RedactAccessLog, redact_path, redact_query, redact_target


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("", ""),
        ("code=sek_ac_x&state=abc&iss=http%3A%2F%2Fh", "code=REDACTED&state=REDACTED&iss=http%3A%2F%2Fh"),
        ("access_token=a&refresh_token=b&i=c", "access_token=REDACTED&refresh_token=REDACTED&i=REDACTED"),
        ("co%64e=sek_ac_x&CODE=y&+code=z", "co%64e=REDACTED&CODE=REDACTED&+code=REDACTED"),
        ("page=2&code", "page=2&code"),  # no value, nothing to hide
        ("scope=read%3Aaccount&code=&x=1", "scope=read%3Aaccount&code=REDACTED&x=1"),
        ("a=1&&b=code=2", "a=1&&b=code=2"),
    ],
)
def test_secret_query_values_are_replaced(query: str, logged: str) -> None:
    assert redact_query(query) == logged


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/miauth/0f6c-session", "/miauth/REDACTED"),
        ("/api/miauth/0f6c-session/check", "/api/miauth/REDACTED/check"),
        ("/oauth/authorize", "/oauth/authorize"),
        ("/@demo", "/@demo"),
    ],
)
def test_miauth_session_ids_are_replaced(path: str, logged: str) -> None:
    assert redact_path(path) == logged


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "GET", "/demo/callback?code=sek_ac_secret&state=s1&iss=x", "1.1", 200),
        None,
    )
    assert RedactAccessLog().filter(record)
    assert (
        record.getMessage() == '127.0.0.1:5555 - "GET /demo/callback?code=REDACTED&state=REDACTED&iss=x HTTP/1.1" 200'
    )
    assert redact_target("/miauth/s?i=t") == "/miauth/REDACTED?i=REDACTED"


def test_the_login_pages_next_is_redacted_inside() -> None:
    logged = redact_query("next=%2Foauth%2Fauthorize%3Fclient_id%3Dc%26state%3Dsecret-state%26code_challenge%3Dx")
    assert logged == "next=/oauth/authorize%3Fclient_id%3Dc%26state%3DREDACTED%26code_challenge%3Dx"
