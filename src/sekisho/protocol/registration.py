"""Client metadata of a dynamic registration request (RFC 7591 §2, §3.1), parsed strictly: what is known is checked,
the rest ignored."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sekisho.errors import InvalidClientMetadata, InvalidRedirectUri, OAuthError
from sekisho.protocol import redirects
from sekisho.protocol.params import is_unicode
from sekisho.protocol.scopes import split_scope

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
MAX_REDIRECT_URIS = 20
MAX_URI_LENGTH = 2048
MAX_NAME_LENGTH = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces and backslashes: never in a URL sekisho shows


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """The metadata sekisho keeps of a registration, each field checked (RFC 7591 §2 defaults applied)."""

    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    client_name: str | None
    scope: tuple[str, ...] | None  # None: any scope the server knows
    client_uri: str | None = None  # https URLs (RFC 7591 §2), the client's own word
    logo_uri: str | None = None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"


def parse_registration(
    body: bytes, content_type: str, *, grant_types: Collection[str], known_scopes: Mapping[str, str]
) -> ClientRegistration:
    """RFC 7591 §3.1: a JSON object of client metadata; `grant_types` are those a client may register for."""
    metadata = _json_object(body, content_type)
    redirect_uris = _redirect_uris(metadata.get("redirect_uris"))
    method = _one_of(metadata, "token_endpoint_auth_method", AUTH_METHODS, "client_secret_basic")
    grants = _strings(metadata, "grant_types") or ("authorization_code",)
    for grant in grants:
        if grant not in grant_types:
            raise InvalidClientMetadata(f"grant type {grant!r} is not offered for registration")
    responses = _strings(metadata, "response_types")
    if responses is None:
        responses = ("code",) if "authorization_code" in grants else ()
    # RFC 7591 §2.1: the code response type goes with the authorization_code grant, both ways.
    if any(response != "code" for response in responses):
        raise InvalidClientMetadata("the only response type is 'code'")
    if ("code" in responses) != ("authorization_code" in grants):
        raise InvalidClientMetadata("response type 'code' and grant type 'authorization_code' go together")
    if "authorization_code" in grants and not redirect_uris:
        raise InvalidRedirectUri("redirect_uris is required for the authorization_code grant")
    return ClientRegistration(
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=method,
        grant_types=grants,
        response_types=responses,
        client_name=_name(metadata.get("client_name")),
        scope=_scope(metadata.get("scope"), known_scopes),
        client_uri=_https_url(metadata, "client_uri"),
        logo_uri=_https_url(metadata, "logo_uri"),
    )


def _json_object(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise InvalidClientMetadata("send the client metadata as application/json")
    try:
        found = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidClientMetadata("the body is not a JSON object") from exc
    if not isinstance(found, dict):
        raise InvalidClientMetadata("the body is not a JSON object")
    return found


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with unique member names, every string storable (a "\\ud800" escape parses to a lone
    surrogate, which no database takes)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a member appears twice")
    for value in found.values():
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, str) and not is_unicode(item):
                raise ValueError("a string is not Unicode")
    return found


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _strings(metadata: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InvalidClientMetadata(f"{name} must be an array of strings")
    return tuple(dict.fromkeys(value))


def _redirect_uris(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRedirectUri("redirect_uris must be an array of strings")
    uris = tuple(dict.fromkeys(value))
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(f"at most {MAX_REDIRECT_URIS} redirect URIs")
    for uri in uris:
        if len(uri) > MAX_URI_LENGTH:
            raise InvalidRedirectUri(f"a redirect URI is longer than {MAX_URI_LENGTH} characters")
        try:
            redirects.check_registrable(uri)  # the rules of `sekisho client add`
        except OAuthError as exc:
            raise InvalidRedirectUri(exc.description) from exc
    return uris


def _one_of(metadata: Mapping[str, Any], name: str, choices: Collection[str], default: str) -> str:
    value = metadata.get(name)
    if value is None:  # absent, or null as clients that dump every field send it
        return default
    if value not in choices:
        raise InvalidClientMetadata(f"{name} must be one of {', '.join(choices)}")
    return str(value)


def _name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH or _CONTROL.search(value):
        raise InvalidClientMetadata(f"client_name must be 1-{MAX_NAME_LENGTH} printable characters")
    return value.strip()


def _https_url(metadata: Mapping[str, Any], name: str) -> str | None:
    """client_uri or logo_uri: an https URL with a host and no userinfo, or absent (None)."""
    value = metadata.get(name)
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) and len(value) <= MAX_URI_LENGTH else None
        valid = parts is not None and parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc
    except ValueError:
        valid = False
    if not valid or _UNSAFE.search(value):  # a browser reads `\` as `/`: the host shown could be another
        raise InvalidClientMetadata(f"{name} must be an https URL")
    return str(value)


def _scope(value: Any, known: Mapping[str, str]) -> tuple[str, ...] | None:
    """As at the authorization endpoint: unknown scopes are dropped; none left is an error."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidClientMetadata("scope must be a string of space-separated scopes")
    kept = tuple(token for token in split_scope(value) if token in known)
    if not kept:
        raise InvalidClientMetadata("none of the scopes is known to this server")
    return kept
