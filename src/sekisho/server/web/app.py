"""The Starlette application: a route table, the lifespan, and the error handlers."""

from __future__ import annotations

import asyncio
import gc
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from sekisho.errors import OAuthError
from sekisho.resource import StoreVerifier
from sekisho.resource.asgi import route
from sekisho.server.entities import AccessToken
from sekisho.server.fetch import AddressPolicy, Fetcher, Resolver, system_resolver
from sekisho.server.purge import INTERVAL as PURGE_INTERVAL
from sekisho.server.purge import purging
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import SigningKeys
from sekisho.server.store.driver import Query
from sekisho.server.store.sql import SqlStore
from sekisho.server.url_clients import UrlClients
from sekisho.server.web import device, health, miauth, oauth, observe, openapi, pages, registration
from sekisho.server.web.requests import AppState
from sekisho.server.web.responses import (
    handle_client_disconnect,
    handle_http_exception,
    handle_oauth_error,
    handle_unexpected,
    render,
)
from sekisho.server.web.routing import IndexedRouter
from sekisho.server.web.sessions import Csrf
from sekisho.server.web.transport import Edge

STATIC = Path(__file__).parent / "static"


class AnyText(PathConvertor):
    """Like `path`, line breaks included (`.` alone stops at one, and the route would be a 404)."""

    regex = "(?s:.*)"


register_url_convertor("anytext", AnyText())


@dataclass(frozen=True, slots=True)
class Host:
    """What a plug-in (the demo) gets to build its routes: the store (connected once the app starts), the token
    verifier, the clock, the page renderer (async: `render`, the site's header filled in), `prepare`, which
    compiles a Core statement for the store's connections, the issuer (where the plug-in's API lives: its resource
    identifier, RFC 8707), the scopes the server knows, and under `--dpop-nonce` the secret of the token
    endpoint's DPoP nonces (a function: the secret is read from the database when the app starts), so that the
    plug-in asks for the same nonces."""

    store: SqlStore
    verifier: StoreVerifier
    clock: Callable[[], float]
    page: Callable[..., Any]
    prepare: Callable[[Any], Query]
    issuer: str
    scopes: tuple[str, ...]
    dpop_nonce_secret: Callable[[], bytes] | None = None


Plugin = Callable[[Host], Sequence[BaseRoute]]


class _StoredTokens:
    """The store's access tokens for `StoreVerifier`, which is made before the store connects and has its parts."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    async def find_access_token(self, digest: str, now: int) -> AccessToken | None:
        return await self._store.grants.find_access_token(digest, now)


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    address_policy: AddressPolicy | None = None,
    resolver: Resolver = system_resolver,
    purge_interval: float = PURGE_INTERVAL,
    plugins: Sequence[Plugin] = (),
) -> Starlette:
    """The app; `clock` and `sleep` are its time (tests pass their own), `address_policy` and `resolver` let tests
    aim URL-client fetches at loopback pages, `purge_interval` (seconds) lets them see the purge timer fire, and
    each of `plugins` adds routes (sekisho.app mounts the demo this way)."""
    store = SqlStore(settings.database)
    policy = address_policy or AddressPolicy(allow_private=settings.allow_private_client_ids)
    # The demo API lives at the issuer: a token issued for other resources (RFC 8707) is not for it; one issued
    # without `resource` is (the issuer is every token's default audience, as a JWT's `aud` says).
    verifier = StoreVerifier(_StoredTokens(store), clock=clock, audience=settings.issuer, accept_without_audience=True)
    started: dict[str, AppState] = {}  # the running app's state, for the plug-ins' DPoP nonce secret
    nonce_secret = (lambda: started["state"].dpop_secret) if settings.dpop_nonce else None
    host = Host(store, verifier, clock, render, Query, settings.issuer, tuple(settings.scopes), nonce_secret)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.connect(migrate_schema=migrate)
        key = await store.keys.server_secret("csrf", secrets.token_hex(32), int(clock()))
        app.state.settings = settings
        fetcher = Fetcher.for_issuer(settings.issuer, policy, resolver)
        url_clients = UrlClients(store, fetcher, clock)
        signing_keys = SigningKeys(store, settings.access_token_ttl)
        dpop_key = await store.keys.server_secret("dpop-nonce", secrets.token_hex(32), int(clock()))
        app.state.sekisho = started["state"] = AppState(
            settings, store, Csrf(bytes.fromhex(key)), url_clients, signing_keys, bytes.fromhex(dpop_key), clock, sleep
        )
        try:
            async with purging(store, clock, purge_interval, settings.registration_purge_after):
                yield
        finally:
            await fetcher.close()
            await store.close()

    routes = [
        route("/", pages.home, ["GET"]),
        route("/favicon.ico", pages.favicon, ["GET"]),
        route("/healthz", health.healthz, ["GET"]),
        route("/readyz", health.readyz, ["GET"]),
        route("/metrics", observe.metrics, ["GET"]),
        route("/openapi.json", openapi.openapi, ["GET"]),
        route("/.well-known/oauth-authorization-server", oauth.metadata, ["GET"]),
        route("/.well-known/oauth-authorization-server", oauth.cors_preflight, ["OPTIONS"]),
        route("/oauth/authorize", oauth.authorize, ["GET", "POST"]),
        route("/oauth/token", oauth.token, ["POST"]),
        route("/oauth/token", oauth.cors_preflight, ["OPTIONS"]),
        route("/oauth/revoke", oauth.revoke, ["POST"]),
        route("/oauth/revoke", oauth.cors_preflight, ["OPTIONS"]),
        route("/oauth/introspect", oauth.introspect, ["POST"]),
        route("/oauth/par", oauth.pushed_authorization, ["POST"]),
        route("/oauth/par", oauth.cors_preflight, ["OPTIONS"]),
        route("/oauth/device_authorization", device.device_authorization, ["POST"]),
        route("/oauth/device_authorization", oauth.cors_preflight, ["OPTIONS"]),
        route("/device", device.verification, ["GET", "POST"]),
        route("/oauth/jwks", oauth.jwks, ["GET"]),
        route("/oauth/jwks", oauth.cors_preflight, ["OPTIONS"]),
        *registration_routes(settings),
        route("/login", pages.login_form, ["GET"]),
        route("/login", pages.login, ["POST"]),
        route("/logout", pages.logout, ["POST"]),
        route("/settings/apps", pages.connected_apps, ["GET"]),
        route("/settings/apps/revoke", pages.revoke_app, ["POST"]),
        route("/demo/callback", pages.demo_callback, ["GET"]),
        # {session:anytext}: a session id with a slash or a line break reaches the handler and gets its 400 /
        # {"ok": false}, not a 404
        route("/miauth/{session:anytext}", miauth.consent, ["GET", "POST"]),
        route("/api/miauth/{session:anytext}/check", miauth.check, ["POST"]),
        *(plugged for plugin in plugins for plugged in plugin(host)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        middleware=[
            # Observe reads the client's address once Edge has set it, so it also counts Edge's refusals.
            Middleware(observe.Observe, log_requests=settings.log_format == "json"),
            Middleware(Edge, trusted=settings.trusted_proxies, hsts=settings.issuer.startswith("https://")),
        ],
        exception_handlers={
            OAuthError: handle_oauth_error,
            HTTPException: handle_http_exception,
            ClientDisconnect: handle_client_disconnect,
            Exception: handle_unexpected,
        },
    )
    app.router = IndexedRouter(routes, lifespan=lifespan)
    # The header links to the signed-in user's page when a plug-in (the demo) serves /@NAME.
    app.state.user_pages = any(getattr(plugged, "path", None) == "/@{username}" for plugged in routes)
    return app


def registration_routes(settings: Settings) -> list[BaseRoute]:
    """POST /oauth/register (RFC 7591) when `--registration` is open or token; off, the path does not exist."""
    if settings.registration == "off":
        return []
    return [
        route("/oauth/register", registration.register, ["POST"]),
        route("/oauth/register", oauth.cors_preflight, ["OPTIONS"]),
    ]


def x_oauth(host: Host) -> list[BaseRoute]:
    """A plug-in: X's OAuth 2.0 paths, for the demo's X stand-in (docs/x-stand-in.md; sekisho.app mounts it with the
    demo). The same endpoints in X's dialect (sekisho.server.dialects), advertised in no metadata, as X has none."""
    return [
        route("/i/oauth2/authorize", oauth.x_authorize, ["GET", "POST"]),
        route("/2/oauth2/token", oauth.x_token, ["POST"]),
        route("/2/oauth2/revoke", oauth.x_revoke, ["POST"]),
    ]


def settle_for_serving() -> None:
    """Once per serving process, after its app is built: the objects of start-up (modules, the app, its templates)
    go to the collector's permanent generation, where full collections no longer walk them, and the young generation
    is collected after 50,000 more container objects rather than 700. Not for library use or tests, where many apps
    come and go in one process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
