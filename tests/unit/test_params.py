"""sekisho.protocol.params: untrusted query, form and JSON parameters (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.errors import InvalidRequest
from sekisho.protocol.params import (
    MAX_BODY_BYTES,
    MAX_VALUE_LENGTH,
    TOKEN_PARAMETERS,
    AuthorizationRequest,
    TokenRequest,
    parse_body,
    parse_form,
    parse_items,
    parse_json,
    require,
)

# ---------------------------------------------------------------- parse_items


def test_items_become_a_dict() -> None:
    assert parse_items([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}


def test_duplicated_parameter_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_items([("scope", "a"), ("scope", "b")])
    assert caught.value.error == "invalid_request"
    assert caught.value.description == "parameter 'scope' was sent more than once"


def test_duplicated_parameter_is_refused_even_with_equal_values() -> None:
    with pytest.raises(InvalidRequest, match="sent more than once"):
        parse_items([("code", "x"), ("code", "x")])


def test_empty_values_are_treated_as_omitted() -> None:
    # RFC 6749 §3.1: parameters sent without a value MUST be treated as if they were omitted.
    assert parse_items([("state", ""), ("scope", "read:account")]) == {"scope": "read:account"}


def test_value_at_the_length_limit_is_accepted_and_one_more_refused() -> None:
    assert parse_items([("state", "x" * MAX_VALUE_LENGTH)]) == {"state": "x" * MAX_VALUE_LENGTH}
    with pytest.raises(InvalidRequest) as caught:
        parse_items([("state", "x" * (MAX_VALUE_LENGTH + 1))])
    assert caught.value.description == "parameter 'state' is too long"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\t", "\n", "\r", "\x1f", "\x7f"])
def test_control_characters_in_values_are_refused(char: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_items([("state", f"ab{char}cd")])
    assert caught.value.description == "parameter 'state' contains control characters"


def test_non_ascii_values_are_kept() -> None:
    assert parse_items([("state", "é日本")]) == {"state": "é日本"}


# ---------------------------------------------------------------- parse_form


def test_form_body_is_decoded() -> None:
    body = b"grant_type=authorization_code&scope=read%3Aaccount+write%3Anotes&state=%E6%97%A5"
    assert parse_form(body) == {
        "grant_type": "authorization_code",
        "scope": "read:account write:notes",
        "state": "日",
    }


def test_form_duplicates_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_form(b"code=a&grant_type=authorization_code&code=b")
    assert caught.value.description == "parameter 'code' was sent more than once"


def test_form_empty_values_are_omitted() -> None:
    assert parse_form(b"state=&scope=read%3Aaccount&code") == {"scope": "read:account"}


def test_empty_form_is_empty() -> None:
    assert parse_form(b"") == {}


@pytest.mark.parametrize("body", [b"a=%ff", b"\xff=1", b"a=\xc3", b"a=%C3%28", b"a=\xed\xa0\x80"])
def test_form_that_is_not_utf8_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_form(body)
    assert caught.value.description == "the form body is not valid UTF-8 form encoding"


def test_form_with_percent_encoded_control_character_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="control characters"):
        parse_form(b"state=a%00b")


def test_form_at_the_size_limit_is_read_and_one_byte_more_refused() -> None:
    assert parse_form(b"&" * MAX_BODY_BYTES) == {}
    with pytest.raises(InvalidRequest) as caught:
        parse_form(b"&" * (MAX_BODY_BYTES + 1))
    assert caught.value.description == "the request body is too large"


# ---------------------------------------------------------------- parse_json


def test_json_object_of_strings() -> None:
    assert parse_json(b'{"grant_type": "refresh_token", "refresh_token": "sek_rt_x"}') == {
        "grant_type": "refresh_token",
        "refresh_token": "sek_rt_x",
    }


def test_json_null_and_empty_string_are_treated_as_omitted() -> None:
    assert parse_json(b'{"a": null, "b": "", "c": "3"}') == {"c": "3"}


def test_with_known_names_other_parameters_are_ignored_whatever_they_hold() -> None:
    # RFC 6749 §3.1: unrecognized parameters are ignored: sent twice, too long, or with control characters.
    items = [("code", "c"), ("foo", "1"), ("foo", "2"), ("bar", "x" * (MAX_VALUE_LENGTH + 1)), ("baz", "a\nb")]
    assert parse_items(items, known={"code"}) == {"code": "c"}
    with pytest.raises(InvalidRequest, match="sent more than once"):  # a known one sent twice is still refused
        parse_items([("code", "a"), ("code", "b")], known={"code"})


def test_token_endpoint_bodies_ignore_unknown_members_of_any_type() -> None:
    body = {"grant_type": "refresh_token", "refresh_token": "r", "expires_in": 3600, "extra": {"a": [1]}}
    assert parse_body(json.dumps(body).encode(), "application/json") == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
    }
    form = b"grant_type=refresh_token&refresh_token=r&foo=1&foo=2"
    assert parse_body(form, "application/x-www-form-urlencoded") == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
    }
    with pytest.raises(InvalidRequest, match="'refresh_token' must be a string"):  # known ones are still checked
        parse_body(b'{"grant_type": "refresh_token", "refresh_token": 1}', "application/json")
    assert {"grant_type", "code", "code_verifier", "client_secret", "token", "token_type_hint"} <= TOKEN_PARAMETERS


@pytest.mark.parametrize("value", ["1", "1.5", "true", "false", "[]", '["a"]', "{}", '{"x": "y"}', "NaN", "-Infinity"])
def test_json_non_string_values_are_refused(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(b'{"ok": "fine", "expires_in": ' + value.encode() + b"}")
    assert caught.value.error == "invalid_request"
    assert caught.value.description == "parameter 'expires_in' must be a string"


@pytest.mark.parametrize("body", [b"[]", b'["a"]', b'"grant_type"', b"1", b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(body)
    assert caught.value.description == "the JSON body must be an object"


@pytest.mark.parametrize("body", [b"", b"{", b"{'a': 'b'}", b'{"a": "b",}', b"grant_type=x", b'{"a": "b"} x'])
def test_invalid_json_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(body)
    assert caught.value.description == "the body is not valid JSON"


@pytest.mark.parametrize("body", [b'{"a": "\xff"}', b'{"a": "\xc3"}', b'{"\xfe": "b"}'])
def test_json_that_is_not_utf8_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(body)
    assert caught.value.description == "the body is not valid JSON"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_json_in_another_unicode_encoding_is_refused(encoding: str) -> None:
    # RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8; json.loads(bytes) would guess UTF-16/32.
    body = json.dumps({"grant_type": "authorization_code"}).encode(encoding)
    with pytest.raises(InvalidRequest):
        parse_json(body)


def test_json_duplicated_member_is_refused() -> None:
    # RFC 6749 §3.1 / §3.2: parameters MUST NOT be included more than once, in JSON as in a form.
    with pytest.raises(InvalidRequest) as caught:
        parse_json(b'{"grant_type": "authorization_code", "grant_type": "refresh_token"}')
    assert caught.value.error == "invalid_request"
    assert "more than once" in caught.value.description


@pytest.mark.parametrize("escaped", [rb"\ud800", rb"\udfff", rb"a\ud83d", rb"\ude00b"])
def test_json_lone_surrogate_is_refused(escaped: bytes) -> None:
    # A lone surrogate is not a Unicode scalar value: it cannot be stored or compared as UTF-8 later.
    with pytest.raises(InvalidRequest):
        parse_json(b'{"client_id": "' + escaped + b'"}')


def test_json_escaped_surrogate_pair_is_a_character() -> None:
    assert parse_json(rb'{"state": "\ud83d\ude00"}') == {"state": "\U0001f600"}


def test_json_deep_nesting_is_refused_not_crashing() -> None:
    with pytest.raises(InvalidRequest):
        parse_json(b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")


def test_json_huge_integer_is_refused_not_crashing() -> None:
    with pytest.raises(InvalidRequest):
        parse_json(b'{"a": 1' + b"0" * 5000 + b"}")


def test_json_control_character_in_value_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="control characters"):
        parse_json(b'{"state": "a\\u0000b"}')


def test_json_oversized_body_is_refused() -> None:
    body = json.dumps({"state": "x" * MAX_BODY_BYTES}).encode()
    with pytest.raises(InvalidRequest) as caught:
        parse_json(body)
    assert caught.value.description == "the request body is too large"


# ---------------------------------------------------------------- parse_body


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", " application/json ", "app/x+json"],
)
def test_body_read_as_json(content_type: str) -> None:
    assert parse_body(b'{"code": "b"}', content_type) == {"code": "b"}


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8", "", "  "],
)
def test_body_read_as_form(content_type: str) -> None:
    assert parse_body(b"code=b", content_type) == {"code": "b"}


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml", "json"])
def test_body_of_another_type_is_refused(content_type: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_body(b"a=b", content_type)
    assert caught.value.description == "the body must be application/x-www-form-urlencoded or application/json"


def test_json_content_type_with_form_body_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        parse_body(b"a=b", "application/json")


# ---------------------------------------------------------------- dataclasses

AUTHORIZE = {
    "client_id": "c1",
    "redirect_uri": "https://app.example/cb",
    "response_type": "code",
    "scope": "read:account",
    "state": "xyz",
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
}


def test_authorization_request_round_trips() -> None:
    request = AuthorizationRequest.from_params({**AUTHORIZE, "nonce": "ignored"})
    assert request.client_id == "c1"
    assert request.code_challenge_method == "S256"
    assert request.as_params() == AUTHORIZE


def test_authorization_request_missing_fields_are_none_and_left_out() -> None:
    request = AuthorizationRequest.from_params({"client_id": "c1"})
    assert request.redirect_uri is None
    assert request.state is None
    assert request.as_params() == {"client_id": "c1"}


def test_authorization_request_is_frozen() -> None:
    request = AuthorizationRequest.from_params(AUTHORIZE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.client_id = "other"  # type: ignore[misc]


def test_token_request_from_params() -> None:
    request = TokenRequest.from_params(
        {"grant_type": "authorization_code", "code": "sek_ac_x", "code_verifier": "v", "redirect_uri": "r"}
    )
    assert request == TokenRequest(
        grant_type="authorization_code", code="sek_ac_x", code_verifier="v", redirect_uri="r"
    )
    assert request.refresh_token is None
    assert request.scope is None


def test_token_request_needs_grant_type() -> None:
    with pytest.raises(InvalidRequest) as caught:
        TokenRequest.from_params({"code": "x"})
    assert caught.value.description == "grant_type is required"


def test_token_request_is_frozen() -> None:
    request = TokenRequest.from_params({"grant_type": "refresh_token"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.grant_type = "x"  # type: ignore[misc]


def test_require() -> None:
    assert require("v", "code") == "v"
    with pytest.raises(InvalidRequest) as caught:
        require(None, "code")
    assert caught.value.description == "code is required"


# ---------------------------------------------------------------- properties

SMALL = settings(max_examples=300, deadline=None)


@SMALL
@given(st.binary(max_size=512))
def test_parse_form_raises_only_invalid_request(body: bytes) -> None:
    try:
        params = parse_form(body)
    except InvalidRequest:
        return
    assert all(isinstance(v, str) and v for v in params.values())


@SMALL
@given(st.binary(max_size=512))
def test_parse_json_raises_only_invalid_request(body: bytes) -> None:
    try:
        params = parse_json(body)
    except InvalidRequest:
        return
    assert all(isinstance(v, str) and v for v in params.values())


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_JSONISH = _SCALARS | st.lists(_SCALARS, max_size=2) | st.dictionaries(st.text(max_size=4), _SCALARS, max_size=2)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _JSONISH, max_size=4))
def test_parse_json_of_any_json_object_raises_only_invalid_request(document: dict[str, object]) -> None:
    try:
        params = parse_json(json.dumps(document).encode())
    except InvalidRequest:
        return
    assert set(params) <= set(document)
    assert all(params[name] == document[name] for name in params)


@SMALL
@given(st.binary(max_size=256), st.sampled_from(["", "application/json", "application/x-www-form-urlencoded", "x/y"]))
def test_parse_body_raises_only_invalid_request(body: bytes, content_type: str) -> None:
    try:
        parse_body(body, content_type)
    except InvalidRequest:
        pass


_PRINTABLE = st.text(
    st.characters(min_codepoint=0x20, exclude_characters="\x7f", exclude_categories=["Cs"]), max_size=30
)


@SMALL
@given(st.dictionaries(st.text(min_size=1, max_size=10), _PRINTABLE, max_size=6))
def test_urlencoded_parameters_round_trip(params: dict[str, str]) -> None:
    parsed = parse_form(urlencode(params).encode())
    assert parsed == {name: value for name, value in params.items() if value != ""}
