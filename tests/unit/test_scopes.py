"""sekisho.protocol.scopes: CONTRACT.md §3 scope rules (RFC 6749 §3.3, §6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.errors import InvalidScope
from sekisho.protocol.scopes import (
    DEFAULT_SCOPES,
    MISSKEY_SCOPES,
    X_SCOPES,
    check_narrowing,
    check_scope,
    describe,
    join_scope,
    split_scope,
)

KNOWN = {"read:account": "Read your account", "write:notes": "Post notes", "tweet.read": "Read posts"}

# ---------------------------------------------------------------- known lists


@pytest.mark.parametrize("scope", ["read:account", "write:notes", "read:notifications", "write:votes"])
def test_misskey_permissions_are_known(scope: str) -> None:
    assert scope in MISSKEY_SCOPES
    assert scope in DEFAULT_SCOPES


@pytest.mark.parametrize("scope", ["tweet.read", "tweet.write", "users.read", "offline.access"])
def test_x_scopes_are_known(scope: str) -> None:
    assert scope in X_SCOPES
    assert scope in DEFAULT_SCOPES


def test_default_scopes_are_misskey_and_x_together() -> None:
    assert DEFAULT_SCOPES == {**MISSKEY_SCOPES, **X_SCOPES}
    assert all(words for words in DEFAULT_SCOPES.values())


def test_default_scope_tokens_are_valid_scope_tokens() -> None:
    for token in DEFAULT_SCOPES:
        assert check_scope(token, known=DEFAULT_SCOPES, allowed=None) == (token,)


# ---------------------------------------------------------------- split_scope and join_scope


def test_split_removes_duplicates_keeping_first_position() -> None:
    assert split_scope("b a b c a") == ("b", "a", "c")


def test_split_ignores_repeated_spaces() -> None:
    assert split_scope("  a   b ") == ("a", "b")


def test_split_empty() -> None:
    assert split_scope("") == ()
    assert split_scope("   ") == ()


def test_join() -> None:
    assert join_scope(("a", "b")) == "a b"
    assert join_scope(()) == ""


# ---------------------------------------------------------------- check_scope


def test_known_scopes_are_granted_in_request_order() -> None:
    assert check_scope("write:notes read:account", known=KNOWN, allowed=None) == ("write:notes", "read:account")


def test_duplicates_are_removed_keeping_order() -> None:
    granted = check_scope("write:notes read:account write:notes", known=KNOWN, allowed=None)
    assert granted == ("write:notes", "read:account")


def test_unknown_scopes_are_dropped() -> None:
    granted = check_scope("admin read:account root write:notes", known=KNOWN, allowed=None)
    assert granted == ("read:account", "write:notes")


@pytest.mark.parametrize("raw", ["admin", "admin root", "", "   ", "READ:ACCOUNT", "read:account\twrite:notes"])
def test_nothing_known_left_is_invalid_scope(raw: str) -> None:
    with pytest.raises(InvalidScope) as caught:
        check_scope(raw, known=KNOWN, allowed=None)
    assert caught.value.error == "invalid_scope"
    assert caught.value.status == 400
    assert caught.value.description == (
        "none of the requested scopes is known to this server or allowed for this client"
    )


def test_scope_not_allowed_for_the_client_is_dropped() -> None:
    granted = check_scope("read:account write:notes", known=KNOWN, allowed=["write:notes"])
    assert granted == ("write:notes",)


def test_nothing_allowed_left_is_invalid_scope() -> None:
    with pytest.raises(InvalidScope):
        check_scope("read:account", known=KNOWN, allowed=["write:notes"])


def test_empty_allowed_list_allows_nothing() -> None:
    with pytest.raises(InvalidScope):
        check_scope("read:account", known=KNOWN, allowed=[])


def test_allowed_but_unknown_is_still_dropped() -> None:
    assert check_scope("admin read:account", known=KNOWN, allowed=["admin", "read:account"]) == ("read:account",)


def test_invalid_scope_token_is_dropped_even_when_known() -> None:
    # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); no '"' or '\'.
    known = {**KNOWN, 'bad"quote': "x", "back\\slash": "y", "é": "z"}
    granted = check_scope('bad"quote read:account back\\slash é', known=known, allowed=None)
    assert granted == ("read:account",)


def test_missing_scope_without_default_is_invalid_scope() -> None:
    with pytest.raises(InvalidScope) as caught:
        check_scope(None, known=KNOWN, allowed=None)
    assert caught.value.description == "scope is required"


def test_missing_scope_uses_the_default() -> None:
    assert check_scope(None, known=KNOWN, allowed=None, default=("read:account",)) == ("read:account",)


def test_default_is_not_used_when_scope_is_sent() -> None:
    assert check_scope("write:notes", known=KNOWN, allowed=None, default=("read:account",)) == ("write:notes",)


# ---------------------------------------------------------------- check_narrowing (RFC 6749 §6)

ORIGINAL = ("read:account", "write:notes", "tweet.read")


def test_no_scope_on_refresh_keeps_the_original() -> None:
    assert check_narrowing(None, ORIGINAL) == ORIGINAL


def test_narrower_scope_is_granted_in_request_order() -> None:
    assert check_narrowing("tweet.read read:account", ORIGINAL) == ("tweet.read", "read:account")


def test_same_scope_is_granted() -> None:
    assert check_narrowing("read:account write:notes tweet.read", ORIGINAL) == ORIGINAL


def test_narrowing_dedupes() -> None:
    assert check_narrowing("write:notes write:notes", ORIGINAL) == ("write:notes",)


def test_wider_scope_is_invalid_scope() -> None:
    with pytest.raises(InvalidScope) as caught:
        check_narrowing("read:account tweet.write", ORIGINAL)
    assert caught.value.error == "invalid_scope"
    assert caught.value.description == "scope 'tweet.write' was not part of the original grant"


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_scope_on_refresh_is_invalid_scope(raw: str) -> None:
    with pytest.raises(InvalidScope) as caught:
        check_narrowing(raw, ORIGINAL)
    assert caught.value.description == "scope must not be empty"


# ---------------------------------------------------------------- describe


def test_describe_uses_known_words_and_falls_back_to_the_token() -> None:
    assert describe(("write:notes", "custom"), KNOWN) == [("write:notes", "Post notes"), ("custom", "custom")]


# ---------------------------------------------------------------- properties

_TOKENS = st.sampled_from([*KNOWN, "admin", "read:drive", "x", 'q"uote', "é", "tweet.read"])
_RAW = st.lists(st.tuples(st.sampled_from([" ", "  "]), _TOKENS), max_size=8).map(
    lambda pairs: "".join(sep + token for sep, token in pairs)
)


@settings(max_examples=300, deadline=None)
@given(_RAW, st.none() | st.lists(st.sampled_from([*KNOWN, "admin"]), max_size=4))
def test_granted_scope_is_known_allowed_unique_and_in_request_order(raw: str, allowed: list[str] | None) -> None:
    try:
        granted = check_scope(raw, known=KNOWN, allowed=allowed)
    except InvalidScope:
        granted = ()
    assert set(granted) <= set(KNOWN)
    if allowed is not None:
        assert set(granted) <= set(allowed)
    assert len(granted) == len(set(granted))
    requested = raw.split()
    positions = [requested.index(token) for token in granted]
    assert positions == sorted(positions)
    expected = tuple(
        token for token in dict.fromkeys(requested) if token in KNOWN and (allowed is None or token in allowed)
    )
    assert granted == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(list(KNOWN)), min_size=1, unique=True), _RAW)
def test_narrowing_never_widens(original: list[str], raw: str) -> None:
    try:
        narrowed = check_narrowing(raw, tuple(original))
    except InvalidScope:
        return
    assert narrowed
    assert set(narrowed) <= set(original)
    assert len(narrowed) == len(set(narrowed))
