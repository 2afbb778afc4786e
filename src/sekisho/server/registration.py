"""Dynamic client registration (RFC 7591): initial access tokens, and the client registered (the per-address limit
is rate_limits.py's).

A registered client is an ordinary registered client marked `dynamic`: vetted by nobody, so errors before the
user's decision are not redirected to it (RFC 9700 §4.11.2), and it is deleted by the purge once it is older than
`--registration-purge-after` with no grant left (purge.py)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sekisho.errors import InvalidClientMetadata, InvalidToken
from sekisho.protocol import tokens
from sekisho.protocol.bearer import parse_authorization
from sekisho.protocol.redirects import host_of
from sekisho.protocol.registration import ClientRegistration
from sekisho.server.entities import Client, RegistrationToken
from sekisho.server.registry import RegistrationError, build_client
from sekisho.server.store import Store

log = logging.getLogger("sekisho")

INITIAL_ACCESS_TOKEN = "sek_it_"


def offered_grant_types(served: Iterable[str]) -> tuple[str, ...]:
    """The grants a client may register for: every grant served but client_credentials, whose tokens act for no
    user (such clients are the operator's to register, with `sekisho client add`)."""
    return tuple(grant for grant in served if grant != "client_credentials")


async def add_initial_token(store: Store, now: int, *, expires_in: int | None, uses: int | None) -> str:
    """A new initial access token, good for `expires_in` seconds (None: no expiry) and `uses` registrations (None:
    any number); only its digest is stored."""
    secret = tokens.new_secret(INITIAL_ACCESS_TOKEN)
    expires_at = now + expires_in if expires_in is not None else None
    await store.registrations.add_token(RegistrationToken(tokens.digest(secret), now, expires_at, uses))
    return secret


def token_id(token: str) -> str:
    """How `registration-token list` names a token: the start of its digest, which says nothing of the token."""
    return tokens.digest(token)[:12]


async def check_initial_token(store: Store, authorization: str | None, now: int) -> str:
    """The digest of a usable initial access token sent as `Authorization: Bearer`, or `invalid_token` (401)."""
    token = parse_authorization(authorization)
    if token is None:
        raise InvalidToken("registration needs an initial access token as `Authorization: Bearer`")
    digest = tokens.digest(token)
    if not await store.registrations.token_usable(digest, now):
        raise InvalidToken("the initial access token is unknown, expired or used up")
    return digest


async def register(
    store: Store,
    metadata: ClientRegistration,
    *,
    known_scopes: Mapping[str, str],
    token_digest: str | None,
    now: int,
    logo: str | None = None,
) -> dict[str, Any]:
    """Store the client (spending a use of the initial access token, when there is one) and answer RFC 7591 §3.2.1's
    body: its client_id, its secret (shown once), and the metadata as registered. `logo`: the image at
    `metadata.logo_uri` as a data: URL (UrlClients.logo fetched it), None when there was none to keep."""
    uris = metadata.redirect_uris
    name = metadata.client_name or (host_of(uris[0]) if uris else None) or "unnamed app"
    try:
        client, secret = build_client(
            name=name,
            redirect_uris=metadata.redirect_uris,
            public=metadata.public,
            scope=" ".join(metadata.scope) if metadata.scope is not None else None,
            grant_types=metadata.grant_types,
            known_scopes=known_scopes,
            now=now,
            dynamic=True,
        )
    except RegistrationError as exc:  # parse_registration checked the same rules; a rule of client add's it missed
        raise InvalidClientMetadata(str(exc)) from exc
    client = dataclasses.replace(client, website=metadata.client_uri, logo=logo)
    if not await store.registrations.register(client, token_digest, now):
        raise InvalidToken("the initial access token is unknown, expired or used up")
    log.info("client %s registered itself as %r", client.client_id, client.name)
    return build_response(client, secret, metadata)


def build_response(client: Client, secret: str | None, metadata: ClientRegistration) -> dict[str, Any]:
    body: dict[str, Any] = {"client_id": client.client_id, "client_id_issued_at": client.created_at}
    if secret is not None:
        body |= {"client_secret": secret, "client_secret_expires_at": 0}  # RFC 7591 §3.2.1: 0, never expires
    body |= {
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
        "grant_types": list(client.grant_types),
        "response_types": list(metadata.response_types),
    }
    if metadata.client_name is not None:
        body["client_name"] = client.name
    if client.website is not None:
        body["client_uri"] = client.website
    if client.logo is not None:  # RFC 7591 §3.2.1: a logo that could not be fetched is not registered
        body["logo_uri"] = metadata.logo_uri
    if client.scopes is not None:
        body["scope"] = " ".join(client.scopes)
    return body
