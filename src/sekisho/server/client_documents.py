"""What a URL client's page says about it: redirect URIs, name and logo (HTML + h-app, or a JSON document)."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

from sekisho.errors import OAuthError
from sekisho.protocol import client_ids, links, redirects
from sekisho.server.fetch import Fetched

MAX_REDIRECT_URIS = 100
MAX_NAME = 100
JSON_TYPES = ("application/json",)
HTML_TYPES = ("text/html", "application/xhtml+xml")
SECRET_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt")


class DocumentError(ValueError):
    """The client's page cannot serve as its identity; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    logo_uri: str | None = None
    client_uri: str | None = None


def parse(client_id: str, fetched: Fetched, *, allow_private: bool, requested: str | None = None) -> ClientMetadata:
    """ClientMetadata from a fetched page; Link-header redirect URIs are merged with the document's.

    `requested` is the client_id as the client sent it, before normalisation; a JSON document may name either.
    """
    from_header = links.targets(fetched.headers.get_list("link"), "redirect_uri", fetched.url)
    if fetched.content_type in JSON_TYPES or fetched.content_type.endswith("+json"):
        found = parse_json(client_id, fetched.body, allow_private=allow_private, requested=requested)
    elif fetched.content_type in HTML_TYPES:
        found = parse_html(client_id, fetched, allow_private=allow_private)
    elif from_header:
        found = ClientMetadata(client_id, client_id, ())
    else:
        raise DocumentError(f"the client_id page is {fetched.content_type or 'of no type'}, not HTML or JSON")
    uris = _usable([*from_header, *found.redirect_uris])
    if not uris:
        raise DocumentError('the client_id page names no redirect_uri (Link header or <link rel="redirect_uri">)')
    return ClientMetadata(found.client_id, found.name, uris, found.logo_uri, found.client_uri)


def parse_json(
    client_id: str, body: bytes, *, allow_private: bool = False, requested: str | None = None
) -> ClientMetadata:
    """An OAuth Client ID Metadata Document."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DocumentError("the client metadata document is not valid JSON") from exc
    if not isinstance(document, dict):
        raise DocumentError("the client metadata document must be a JSON object")
    # The draft compares strings exactly; the form the client itself sent is exact too (never bite the client).
    if document.get("client_id") not in (client_id, requested or client_id):
        raise DocumentError("the client metadata document's client_id is not the URL it was fetched from")
    method = document.get("token_endpoint_auth_method", "none")
    if method in SECRET_METHODS or "client_secret" in document:
        raise DocumentError("URL clients cannot use client secrets (token_endpoint_auth_method must be none)")
    uris = document.get("redirect_uris", [])
    if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
        raise DocumentError("redirect_uris must be a list of strings")
    return ClientMetadata(
        client_id,
        _name(document.get("client_name")) or client_id,
        tuple(uris),
        _logo_url(document.get("logo_uri"), allow_private),
        _https(document.get("client_uri")),
    )


def parse_html(client_id: str, fetched: Fetched, *, allow_private: bool) -> ClientMetadata:
    """Redirect URIs from <link rel="redirect_uri">; name and logo from the h-app whose u-url is the client_id."""
    # Imported at the first client page, not at start: mf2py brings requests, BeautifulSoup and html5lib into a
    # serving process that may never see a URL client (docs/performance.md).
    import mf2py

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # lxml: a C parser, linear on hostile markup where html5lib's tree fix-ups take quadratic time
            parsed = mf2py.parse(doc=fetched.body, url=fetched.url, html_parser="lxml", metaformats=False)
    except Exception as exc:  # a parser tripped by hostile markup: the page is unusable, the server is fine
        raise DocumentError("the client_id page could not be parsed as HTML") from exc
    rels = parsed.get("rels", {}).get("redirect_uri", [])
    app = _matching_app(parsed.get("items", []), client_id, allow_private)
    name = _name(_first(app, "name")) if app else None
    logo = _logo_url(_first(app, "logo"), allow_private) if app else None
    return ClientMetadata(client_id, name or client_id, tuple(rels), logo, client_id)


def _matching_app(items: list[Any], client_id: str, allow_private: bool) -> dict[str, Any] | None:
    for item in _walk(items):
        if not {"h-app", "h-x-app"} & set(item.get("type", [])):
            continue
        for url in item.get("properties", {}).get("url", []):
            if isinstance(url, str) and _same_client(url, client_id, allow_private):
                return dict(item)
    return None


def _walk(items: list[Any], depth: int = 0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items[:200]:
        if isinstance(item, dict):
            found.append(item)
            if depth < 3:
                found += _walk(item.get("children", []), depth + 1)
    return found


def _same_client(url: str, client_id: str, allow_private: bool) -> bool:
    try:
        return client_ids.normalize(url, allow_private=allow_private) == client_id
    except OAuthError:
        return False


def _first(item: dict[str, Any], name: str) -> Any:
    values = item.get("properties", {}).get(name, [])
    value = values[0] if values else None
    return value.get("value") if isinstance(value, dict) else value


def _name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = re.sub(r"\s+", " ", value).strip()
    return name[:MAX_NAME] or None


def _https(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith("https://") and len(value) <= 2048 else None


def _logo_url(value: Any, allow_private: bool) -> str | None:
    """https; http too under --allow-private-client-ids, as for the client_id (the fetcher checks the same rule)."""
    if allow_private and isinstance(value, str) and value.startswith("http://") and len(value) <= 2048:
        return value
    return _https(value)


def _usable(uris: list[str]) -> tuple[str, ...]:
    usable: list[str] = []
    for uri in dict.fromkeys(uris):
        try:
            usable.append(redirects.check_registrable(uri))
        except OAuthError:
            continue
        if len(usable) >= MAX_REDIRECT_URIS:
            break
    return tuple(usable)
