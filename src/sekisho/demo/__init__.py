"""The demo: notes APIs in Misskey's and X's dialects and each user's notes page, built on `sekisho.resource` and
mounted into the server's app by `mount` (sekisho.app does it when `--demo-api` is on; the server never imports
the demo)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.routing import BaseRoute

from sekisho.demo.notes import MisskeyApi
from sekisho.demo.pages import Render, user_page
from sekisho.demo.store import NotesStore, ServerStore
from sekisho.demo.x import XApi
from sekisho.demo.x_limits import RateLimits
from sekisho.resource import ProtectedResource, TokenVerifier
from sekisho.resource.asgi import route
from sekisho.resource.dpop import DPoPGate
from sekisho.resource.starlette import protected_resource_routes


class Host(Protocol):
    """What the server hands a plug-in: its store, token verifier, clock, page renderer, statement compiler, issuer,
    scopes, and the secret of its DPoP nonces when it asks for them."""

    @property
    def store(self) -> ServerStore: ...
    @property
    def verifier(self) -> TokenVerifier: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def page(self) -> Render: ...
    @property
    def prepare(self) -> Callable[[Any], Any]: ...
    @property
    def issuer(self) -> str: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def dpop_nonce_secret(self) -> Callable[[], bytes] | None: ...


class _StoreProofs:
    """The server's shared record of DPoP proofs (its store's, there once the store connects) as a replay cache."""

    def __init__(self, store: ServerStore) -> None:
        self._store = store

    async def use(self, digest: str, expires_at: int) -> bool:
        return await self._store.proofs.use(digest, expires_at)


def mount(host: Host, *, x_rate_limits: bool = False) -> list[BaseRoute]:
    """The demo's routes, over the host's database; `x_rate_limits`: refuse past X's per-user limits (x_limits).

    The notes API is a protected resource (RFC 9728) at the issuer: its metadata is served at
    /.well-known/oauth-protected-resource and every challenge names it."""
    notes = NotesStore(host.store, host.prepare)
    limits = RateLimits(host.clock, enforce=x_rate_limits)
    described = ProtectedResource(
        resource=host.issuer,
        authorization_servers=(host.issuer,),
        scopes_supported=host.scopes,
        resource_name="sekisho demo notes API",
        resource_documentation=host.issuer + "/openapi.json",
    )
    # RFC 9449 §11.1: a proof's jti used once across every server on the database, and under --dpop-nonce the
    # token endpoint's nonces asked for (§9), as at the token endpoint
    gate = DPoPGate(
        replay=_StoreProofs(host.store),
        clock=host.clock,
        public_url=host.issuer,
        nonce_secret=host.dpop_nonce_secret,
    )
    return [
        *MisskeyApi(notes, host.verifier, clock=host.clock, resource=described, dpop=gate).routes(),
        *XApi(notes, host.verifier, host.clock, limits=limits, resource=described, dpop=gate).routes(),
        route("/@{username}", user_page(notes, host.page), ["GET"]),
        *protected_resource_routes(described),
    ]
