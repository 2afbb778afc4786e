"""sekisho.protocol.pkce: S256 only (RFC 7636)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.errors import InvalidGrant, InvalidRequest
from sekisho.protocol.pkce import challenge_of, check_challenge, check_verifier, s256

# RFC 7636 Appendix B
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

CHALLENGE_RE = re.compile(r"[A-Za-z0-9\-_]{43}")
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def test_rfc7636_appendix_b_vector() -> None:
    assert s256(RFC_VERIFIER) == RFC_CHALLENGE


def test_rfc7636_appendix_b_vector_verifies() -> None:
    assert check_challenge(RFC_CHALLENGE, "S256") == RFC_CHALLENGE
    check_verifier(RFC_VERIFIER, RFC_CHALLENGE)


# ---------------------------------------------------------------- check_challenge


def test_missing_challenge_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_challenge(None, "S256")
    assert caught.value.error == "invalid_request"
    assert caught.value.description == "code_challenge is required (PKCE with S256)"


@pytest.mark.parametrize("method", [None, "s256", "S512", "sha256", "S256 "])
def test_method_other_than_s256_is_refused(method: str | None) -> None:
    # RFC 7636 §4.3: a missing method means "plain", which is refused too.
    with pytest.raises(InvalidRequest) as caught:
        check_challenge(RFC_CHALLENGE, method)
    assert caught.value.description == "code_challenge_method must be S256"


@pytest.mark.parametrize("any_case", [False, True])
@pytest.mark.parametrize("method", ["plain", "PLAIN", "Plain"])
def test_plain_is_refused_with_its_reason(method: str, any_case: bool) -> None:
    # RFC 9700 §2.1.1, in both dialects (X itself takes plain).
    with pytest.raises(InvalidRequest) as caught:
        check_challenge(RFC_CHALLENGE, method, any_case=any_case)
    assert caught.value.description == "code_challenge_method plain is not allowed (RFC 9700 section 2.1.1): use S256"


@pytest.mark.parametrize("method", ["S256", "s256"])
def test_any_case_takes_s256_in_any_case(method: str) -> None:
    # X's dialect: X compares the method's name case-insensitively (twitter-api-v2 sends `s256`).
    assert check_challenge(RFC_CHALLENGE, method, any_case=True) == RFC_CHALLENGE


@pytest.mark.parametrize("method", [None, "S512", "sha256", "S256 ", "s-256"])
def test_any_case_still_refuses_other_methods(method: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_challenge(RFC_CHALLENGE, method, any_case=True)
    assert caught.value.description == "code_challenge_method must be S256"


@pytest.mark.parametrize(
    "challenge",
    [
        RFC_CHALLENGE[:-1],  # 42
        RFC_CHALLENGE + "A",  # 44
        RFC_CHALLENGE + "=",  # padded
        RFC_CHALLENGE[:-1] + "+",  # standard base64 alphabet
        RFC_CHALLENGE[:-1] + "/",
        RFC_CHALLENGE[:-1] + ".",  # unreserved but not base64url
        RFC_CHALLENGE[:-1] + "~",
        RFC_CHALLENGE + "\n",
        RFC_VERIFIER + "A" * 10,  # a verifier sent as the challenge ("plain" in disguise)
    ],
)
def test_malformed_challenge_is_refused(challenge: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_challenge(challenge, "S256")
    assert caught.value.description == "code_challenge must be 43 base64url characters (S256)"


def test_missing_method_is_checked_before_shape() -> None:
    with pytest.raises(InvalidRequest, match="code_challenge_method must be S256"):
        check_challenge("short", None)


# ---------------------------------------------------------------- check_verifier


def test_missing_verifier_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_verifier(None, RFC_CHALLENGE)
    assert caught.value.description == "code_verifier is required"


@pytest.mark.parametrize("length", [43, 128])
def test_verifier_at_the_length_bounds_is_accepted(length: int) -> None:
    verifier = ("aZ9-._~" * 20)[:length]
    check_verifier(verifier, s256(verifier))


@pytest.mark.parametrize("length", [0, 1, 42, 129, 200])
def test_verifier_outside_the_length_bounds_is_refused(length: int) -> None:
    verifier = "a" * length
    with pytest.raises(InvalidRequest) as caught:
        check_verifier(verifier, s256(verifier))
    assert caught.value.error == "invalid_request"
    assert caught.value.description == "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]"


@pytest.mark.parametrize("bad", ["+", "/", "=", " ", "%", "!", "é", "\n", "\x00", "٣"])
def test_verifier_with_a_character_outside_unreserved_is_refused(bad: str) -> None:
    verifier = RFC_VERIFIER[:-1] + bad
    with pytest.raises(InvalidRequest, match=r"43-128 characters"):
        check_verifier(verifier, RFC_CHALLENGE)


def test_verifier_with_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        check_verifier(RFC_VERIFIER + "\n", RFC_CHALLENGE)


def test_verifier_that_does_not_hash_to_the_challenge_is_invalid_grant() -> None:
    other = "A" * 43
    with pytest.raises(InvalidGrant) as caught:
        check_verifier(other, RFC_CHALLENGE)
    assert caught.value.error == "invalid_grant"
    assert caught.value.description == "code_verifier does not match the code_challenge"


def test_verifier_equal_to_the_challenge_is_invalid_grant() -> None:
    # "plain" PKCE: the challenge itself is a well-formed verifier, but must not pass.
    with pytest.raises(InvalidGrant):
        check_verifier(RFC_CHALLENGE, RFC_CHALLENGE)


# ---------------------------------------------------------------- properties

VERIFIERS = st.text(alphabet=UNRESERVED, min_size=43, max_size=128)


@settings(max_examples=300, deadline=None)
@given(VERIFIERS)
def test_s256_always_looks_like_a_challenge(verifier: str) -> None:
    challenge = s256(verifier)
    assert CHALLENGE_RE.fullmatch(challenge)
    assert check_challenge(challenge, "S256") == challenge
    check_verifier(verifier, challenge)


@settings(max_examples=100, deadline=None)
@given(VERIFIERS, VERIFIERS)
def test_a_different_verifier_never_verifies(first: str, second: str) -> None:
    if first == second:
        return
    with pytest.raises(InvalidGrant):
        check_verifier(second, s256(first))


def test_challenge_of_a_well_formed_verifier_and_none_for_any_other() -> None:
    """What the one-statement code exchange compares; a verifier check_verifier would refuse gives None (the
    exchange then goes the long way, where check_verifier says what is wrong)."""
    assert challenge_of(RFC_VERIFIER) == RFC_CHALLENGE
    for refused in (None, "", "a" * 42, "a" * 129, RFC_VERIFIER[:-1] + "é", RFC_VERIFIER[:-1] + " ", "+" * 43):
        assert challenge_of(refused) is None
        with pytest.raises(InvalidRequest):
            check_verifier(refused, RFC_CHALLENGE)
