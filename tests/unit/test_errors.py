"""sekisho.errors: one class per RFC error code, each with its status; description to the client, detail to the log."""

from __future__ import annotations

import pytest

from sekisho import errors
from sekisho.errors import (
    AccessDenied,
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        # RFC 6749 §5.2 and §4.1.2.1
        (InvalidRequest, "invalid_request", 400),
        (InvalidClient, "invalid_client", 401),
        (InvalidGrant, "invalid_grant", 400),
        (UnauthorizedClient, "unauthorized_client", 400),
        (UnsupportedGrantType, "unsupported_grant_type", 400),
        (UnsupportedResponseType, "unsupported_response_type", 400),
        (InvalidScope, "invalid_scope", 400),
        (AccessDenied, "access_denied", 403),
        (ServerError, "server_error", 500),
        (TemporarilyUnavailable, "temporarily_unavailable", 503),
        # RFC 7009 §2.2.1
        (UnsupportedTokenType, "unsupported_token_type", 400),
        # RFC 6750 §3.1
        (InvalidToken, "invalid_token", 401),
    ],
)
def test_error_code_and_status(cls: type[OAuthError], code: str, status: int) -> None:
    exc = cls("something went wrong")
    assert isinstance(exc, OAuthError)
    assert exc.error == code
    assert exc.status == status
    assert exc.body() == {"error": code, "error_description": "something went wrong"}


def test_every_error_class_has_a_distinct_code() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, OAuthError) and value is not OAuthError
    ]
    codes = [cls.error for cls in classes]
    assert len(codes) == len(set(codes)), codes


def test_base_class_is_a_server_error_code() -> None:
    assert OAuthError.error == "server_error"


def test_body_without_description_has_only_the_code() -> None:
    exc = InvalidGrant()
    assert exc.body() == {"error": "invalid_grant"}
    assert exc.description == ""
    assert str(exc) == "invalid_grant"


def test_detail_stays_out_of_the_body() -> None:
    exc = InvalidGrant("authorization code already used", detail="grant g1 revoked")
    assert exc.detail == "grant g1 revoked"
    assert exc.description == "authorization code already used"
    assert str(exc) == "authorization code already used"
    assert "grant g1 revoked" not in repr(exc.body())


def test_status_can_be_overridden_per_instance() -> None:
    exc = InvalidRequest("too big", status=413)
    assert exc.status == 413
    assert InvalidRequest.status == 400
    assert InvalidRequest("again").status == 400


def test_insufficient_scope_names_the_scope() -> None:
    exc = InsufficientScope("write:notes")
    assert exc.error == "insufficient_scope"
    assert exc.status == 403
    assert exc.scope == "write:notes"
    assert exc.description == "this request needs the scope write:notes"
    assert exc.body() == {
        "error": "insufficient_scope",
        "error_description": "this request needs the scope write:notes",
    }


def test_insufficient_scope_with_own_description() -> None:
    exc = InsufficientScope("tweet.write", "posting needs tweet.write")
    assert exc.scope == "tweet.write"
    assert exc.description == "posting needs tweet.write"


def test_errors_are_exceptions_that_can_be_caught_as_oauth_errors() -> None:
    with pytest.raises(OAuthError) as caught:
        raise InvalidScope("nope")
    assert caught.value.error == "invalid_scope"


@pytest.mark.parametrize(
    ("description", "sent"),
    [
        ('parameter "\'" contains control characters', "parameter ''' contains control characters"),
        ("parameter 'é\\x' was sent more than once", "parameter '??x' was sent more than once"),
        ("grant_type '\U0001f600' is not supported", "grant_type '?' is not supported"),
    ],
)
def test_the_description_sent_keeps_to_the_rfc_character_set(description: str, sent: str) -> None:
    # Found by fuzzing (tests/server/test_fuzz.py): descriptions quoting a parameter's name carried `"`, `\` and
    # non-ASCII characters, which RFC 6749 §5.2 does not allow in error_description.
    error = InvalidRequest(description)
    assert error.body() == {"error": "invalid_request", "error_description": sent}
    assert error.description == description  # the log and the HTML error page keep the original
