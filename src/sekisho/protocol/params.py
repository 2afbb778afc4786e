"""Parse untrusted query, form and JSON parameters into frozen dataclasses (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from sekisho.errors import InvalidRequest

MAX_VALUE_LENGTH = 8192
MAX_BODY_BYTES = 64 * 1024

# What an authorization request holds (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2).
REQUEST_PARAMETERS = frozenset(
    {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"}
    | {"resource", "dpop_jkt"}
)
# What the authorization endpoint reads: a request, a pushed request's URI (RFC 9126 §4), the consent form's fields.
AUTHORIZE_PARAMETERS = REQUEST_PARAMETERS | {"request_uri", "decision", "csrf_token"}
# What the pushed authorization request endpoint reads (RFC 9126 §2.1): a request, the client's secret, and the
# two parameters it refuses (`request_uri`; `request`, a request object, which sekisho does not take).
PUSH_PARAMETERS = REQUEST_PARAMETERS | {"client_secret", "request_uri", "request"}
# What the token, revocation and introspection endpoints read (RFC 6749 §4, §6, RFC 7009 §2.1, RFC 7662 §2.1).
TOKEN_PARAMETERS = frozenset(
    {"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id", "client_secret"}
    | {"resource", "token", "token_type_hint", "device_code"}
)
# Parameters that may be sent more than once (RFC 8707 §2: `resource`); their values are joined by REPEATED, a
# character no value can hold (control characters are refused), and split again by `repeated`.
REPEATABLE = frozenset({"resource"})
REPEATED = "\n"


def parse_items(
    items: Iterable[tuple[str, str]], *, known: Collection[str] | None = None, long_values: Collection[str] = ()
) -> dict[str, str]:
    """Collapse parameters to one value each; duplicates are refused (RFC 6749 §3.1, §3.2), but for those in
    REPEATABLE, whose values are kept in order (read them with `repeated`).

    With `known`, other parameters are ignored whatever they hold, sent twice too (RFC 6749 §3.1: "MUST ignore
    unrecognized request parameters"). Values are capped at MAX_VALUE_LENGTH characters; those named in
    `long_values` only by the body's size.
    """
    params: dict[str, str] = {}
    for name, value in items:
        if known is not None and name not in known:
            continue
        if name in params and name not in REPEATABLE:
            raise InvalidRequest(f"parameter {name!r} was sent more than once")
        if len(value) > (MAX_BODY_BYTES if name in long_values else MAX_VALUE_LENGTH):
            raise InvalidRequest(f"parameter {name!r} is too long")
        if has_control_characters(value):
            raise InvalidRequest(f"parameter {name!r} contains control characters")
        if not is_unicode(value):  # JSON's "\ud800" escapes: lone surrogates cannot be stored or compared
            raise InvalidRequest(f"parameter {name!r} is not valid Unicode")
        # a repeated parameter's empty values are omitted (RFC 6749 §3.1), as below for one sent once
        params[name] = REPEATED.join(filter(None, (params[name], value))) if name in params else value
    # RFC 6749 §3.1: parameters sent without a value MUST be treated as if omitted.
    return {name: value for name, value in params.items() if value != ""}


def repeated(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    """The values of a REPEATABLE parameter, in the order sent."""
    value = params.get(name)
    return () if value is None else tuple(value.split(REPEATED))


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """C0 controls and DEL: never part of a parameter, a client_id or a secret (a NUL even fails PostgreSQL)."""
    return _CONTROL.search(value) is not None


def is_unicode(value: str) -> bool:
    """Whether `value` can be stored as UTF-8: no lone surrogate (which a JSON "\\ud800" escape parses to)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose member names are unique (the JSON form of RFC 6749 §3.2's rule)."""
    document = dict(pairs)
    if len(document) != len(pairs):
        raise InvalidRequest("a JSON member was sent more than once")
    return document


def parse_form(
    body: bytes, *, known: Collection[str] | None = None, long_values: Collection[str] = ()
) -> dict[str, str]:
    """An application/x-www-form-urlencoded body."""
    check_body_size(body)
    try:
        text = body.decode("utf-8")
        items = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the form body is not valid UTF-8 form encoding") from exc
    return parse_items(items, known=known, long_values=long_values)


def parse_json(body: bytes, *, known: Collection[str] | None = None) -> dict[str, str]:
    """A JSON object body whose values are all strings (numbers and booleans are refused, unless ignored)."""
    check_body_size(body)
    try:
        # RFC 8259 §8.1: JSON exchanged between systems is UTF-8; json.loads would guess UTF-16/32 from bytes.
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_members)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidRequest("the body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise InvalidRequest("the JSON body must be an object")
    items: list[tuple[str, str]] = []
    for name, value in document.items():
        if value is None or (known is not None and name not in known):
            continue
        if name in REPEATABLE and isinstance(value, list) and all(isinstance(item, str) for item in value):
            items.extend((name, item) for item in value)  # a repeated parameter as a JSON array of strings
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"parameter {name!r} must be a string")
        items.append((name, value))
    return parse_items(items, known=known)


def parse_body(body: bytes, content_type: str) -> dict[str, str]:
    """The token endpoints' body: form or JSON, by the Content-Type header; a missing type is read as a form.

    Only TOKEN_PARAMETERS are read; anything else is ignored.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return parse_json(body, known=TOKEN_PARAMETERS)
    if media_type in ("application/x-www-form-urlencoded", ""):
        return parse_form(body, known=TOKEN_PARAMETERS)
    raise InvalidRequest("the body must be application/x-www-form-urlencoded or application/json")


def check_body_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest("the request body is too large")


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """RFC 6749 §4.1.1 + RFC 7636 §4.3; fields are raw, checked by `sekisho.server.authorize`."""

    client_id: str | None
    redirect_uri: str | None
    response_type: str | None
    scope: str | None
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    resource: tuple[str, ...] = ()  # RFC 8707
    dpop_jkt: str | None = None  # RFC 9449 §10: the thumbprint of the DPoP key the code is to be bound to

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AuthorizationRequest:
        return cls(
            client_id=params.get("client_id"),
            redirect_uri=params.get("redirect_uri"),
            response_type=params.get("response_type"),
            scope=params.get("scope"),
            state=params.get("state"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            resource=repeated(params, "resource"),
            dpop_jkt=params.get("dpop_jkt"),
        )

    def as_params(self) -> dict[str, str]:
        """The request again as parameters, as `parse_items` gives them (a repeated one's values joined)."""
        fields = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": self.response_type,
            "scope": self.scope,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
            "dpop_jkt": self.dpop_jkt,
        }
        if self.resource:
            fields["resource"] = REPEATED.join(self.resource)
        return {name: value for name, value in fields.items() if value is not None}

    def form_fields(self) -> list[tuple[str, str]]:
        """The request again as form fields or query parameters (a repeated one once per value): the consent
        form's hidden fields, the query to come back to after signing in."""
        return [
            (name, item)
            for name, value in self.as_params().items()
            for item in (value.split(REPEATED) if name in REPEATABLE else (value,))
        ]


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """RFC 6749 §4.1.3, §6 (and §4.4 later); client credentials are read separately."""

    grant_type: str
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    device_code: str | None = None  # RFC 8628 §3.4
    resource: tuple[str, ...] = ()  # RFC 8707 §2.2

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TokenRequest:
        grant_type = params.get("grant_type")
        if grant_type is None:
            raise InvalidRequest("grant_type is required")
        return cls(
            grant_type=grant_type,
            code=params.get("code"),
            redirect_uri=params.get("redirect_uri"),
            code_verifier=params.get("code_verifier"),
            refresh_token=params.get("refresh_token"),
            scope=params.get("scope"),
            device_code=params.get("device_code"),
            resource=repeated(params, "resource"),
        )


def require(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value
