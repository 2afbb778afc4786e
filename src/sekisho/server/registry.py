"""Registered (X-style) clients: client_id and, for confidential clients, a secret shown once."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sekisho.errors import OAuthError
from sekisho.protocol import redirects, tokens
from sekisho.protocol.resources import check_uri
from sekisho.protocol.scopes import split_scope
from sekisho.server.entities import Client
from sekisho.server.store import Store

GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
)
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")


def new_client_id() -> str:
    """144 random bits, never starting with "-" (it would read as an option on a command line)."""
    while (client_id := secrets.token_urlsafe(18)).startswith("-"):
        pass
    return client_id


class RegistrationError(ValueError):
    """A refused registration; the message is one line for the user."""


async def register_client(store: Store, **details: Any) -> tuple[Client, str | None]:
    """Store a new client made by `build_client` from `details`; returns it and its secret (None for a public
    client)."""
    client, secret = build_client(**details)
    await store.clients.add(client)
    return client, secret


def build_client(
    *,
    name: str,
    redirect_uris: Iterable[str],
    public: bool,
    scope: str | None,
    grant_types: Iterable[str],
    known_scopes: Mapping[str, str],
    now: int,
    resource_server: bool = False,
    dynamic: bool = False,
    resources: Iterable[str] = (),
    require_par: bool = False,
    require_dpop: bool = False,
) -> tuple[Client, str | None]:
    """A new client, checked, and its secret (None for a public client); nothing is stored.

    A resource server may introspect and revoke every client's tokens; it gets no grant unless asked for one. A
    dynamic client registered itself (RFC 7591). `resources`: resource servers' URIs this client may ask tokens for
    (RFC 8707), besides the server's own. `require_par`: its authorization requests must be pushed (RFC 9126).
    """
    name = name.strip()
    if not name or len(name) > 255:
        raise RegistrationError("--name must be 1-255 characters")
    if resource_server and public:
        raise RegistrationError("a resource server authenticates with a secret, so it cannot be --public")
    uris = tuple(dict.fromkeys(redirect_uris))
    grants = tuple(dict.fromkeys(grant_types)) or (() if resource_server else DEFAULT_GRANT_TYPES)
    for grant in grants:
        if grant not in GRANT_TYPES:
            raise RegistrationError(f"unknown grant type {grant!r} (one of: {', '.join(GRANT_TYPES)})")
    if public and "client_credentials" in grants:
        raise RegistrationError("public clients cannot use the client_credentials grant")
    if "authorization_code" in grants and not uris:
        raise RegistrationError("at least one --redirect-uri is needed for the authorization_code grant")
    for uri in uris:
        try:
            redirects.check_registrable(uri)
        except OAuthError as exc:
            raise RegistrationError(exc.description) from exc
    scopes = split_scope(scope) if scope is not None else None
    unknown = [token for token in scopes or () if token not in known_scopes]
    if unknown:
        raise RegistrationError(f"unknown scope {unknown[0]!r}")
    try:
        allowed = tuple(dict.fromkeys(check_uri(uri) for uri in resources))
    except OAuthError as exc:
        raise RegistrationError(f"--resource: {exc.description}") from exc
    secret = None if public else tokens.new_secret(tokens.CLIENT_SECRET)
    client = Client(
        client_id=new_client_id(),
        name=name,
        redirect_uris=uris,
        grant_types=grants,
        scopes=scopes,
        secret_digest=tokens.digest(secret) if secret else None,
        created_at=now,
        resource_server=resource_server,
        dynamic=dynamic,
        require_dpop=require_dpop,
        resources=allowed,
        require_par=require_par,
    )
    return client, secret
