"""Mint access and refresh tokens, and the token response (RFC 6749 §5.1)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sekisho.protocol import resources, tokens
from sekisho.protocol.jwt_access import AccessClaims
from sekisho.server.entities import AccessToken, NewTokens, RefreshToken, Successors, refresh_expiry
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import Signer
from sekisho.server.store import Found


@dataclass(frozen=True, slots=True)
class Minted:
    """Secrets to hand out once, and the digests to persist."""

    access_token: str
    refresh_token: str | None
    records: NewTokens
    expires_in: int

    def response(self, token_type: str = "Bearer") -> dict[str, Any]:
        """The token response; `token_type` for a bearer token, "DPoP" for one bound to a key (RFC 9449 §5)."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "DPoP" if self.records.access.jkt is not None else token_type,
            "expires_in": self.expires_in,
            "scope": self.records.access.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass(frozen=True, slots=True)
class Expiries:
    """When tokens issued at `now` expire: the access token, and a refresh token's idle and (for a new family)
    absolute expiry."""

    access_ttl: int
    access: int
    refresh_idle: int
    refresh_absolute: int

    @classmethod
    def at(cls, settings: Settings, now: int, ttl: int | None = None) -> Expiries:
        access_ttl = ttl or settings.access_token_ttl
        return cls(
            access_ttl,
            now + access_ttl,
            now + settings.refresh_token_idle_ttl,
            now + settings.refresh_token_absolute_ttl,
        )


async def mint(
    settings: Settings,
    *,
    grant_id: str | None,
    client_id: str,
    user_id: str | None,
    scope: str,
    now: int,
    refresh_scope: str | None = None,
    absolute_expires_at: int | None = None,
    ttl: int | None = None,
    signer: Signer | None = None,
    resource: str | None = None,
    jkt: str | None = None,
) -> Minted:
    """An access token, and a refresh token when `refresh_scope` is given (the grant's full scope); `resource`: the
    resources it is for (RFC 8707), space-separated, its audience; `jkt`: the DPoP key it is bound to (RFC 9449).

    With a `signer` the access token is an RFC 9068 JWT; its digest is stored all the same, so revocation,
    introspection and same-process verification treat both formats alike.
    """
    access_token = None
    if signer is not None:
        claims = _claims(settings, Expiries.at(settings, now, ttl), client_id, user_id, scope, now, resource, jkt)
        access_token = await signer.sign(claims)
    return mint_opaque(
        settings,
        grant_id=grant_id,
        client_id=client_id,
        user_id=user_id,
        scope=scope,
        now=now,
        refresh_scope=refresh_scope,
        absolute_expires_at=absolute_expires_at,
        ttl=ttl,
        resource=resource,
        jkt=jkt,
        access_token=access_token,
    )


def mint_opaque(
    settings: Settings,
    *,
    grant_id: str | None,
    client_id: str,
    user_id: str | None,
    scope: str,
    now: int,
    refresh_scope: str | None = None,
    absolute_expires_at: int | None = None,
    ttl: int | None = None,
    resource: str | None = None,
    jkt: str | None = None,
    access_token: str | None = None,
) -> Minted:
    """`mint` with an opaque access token, for a caller that cannot wait (a store's callback, as MiAuth's
    redemption); `access_token`: one already made (`mint`'s JWT)."""
    access_token = access_token or tokens.new_secret(tokens.ACCESS_TOKEN)
    expiries = Expiries.at(settings, now, ttl)
    return _minted(
        access_token,
        expiries,
        grant_id,
        client_id,
        user_id,
        scope,
        now,
        refresh_scope,
        absolute_expires_at,
        resource,
        jkt,
    )


def _minted(
    access_token: str,
    expiries: Expiries,
    grant_id: str | None,
    client_id: str,
    user_id: str | None,
    scope: str,
    now: int,
    refresh_scope: str | None,
    absolute_expires_at: int | None,
    resource: str | None,
    jkt: str | None,
) -> Minted:
    access = AccessToken(
        digest=tokens.digest(access_token),
        grant_id=grant_id,
        client_id=client_id,
        user_id=user_id,
        scope=scope,
        expires_at=expiries.access,
        created_at=now,
        resource=resource,
        jkt=jkt,
    )
    refresh_token = None
    refresh = None
    if refresh_scope is not None and grant_id is not None and user_id is not None:
        refresh_token = tokens.new_secret(tokens.REFRESH_TOKEN)
        absolute = absolute_expires_at or expiries.refresh_absolute
        refresh = RefreshToken(
            digest=tokens.digest(refresh_token),
            grant_id=grant_id,
            client_id=client_id,
            user_id=user_id,
            scope=refresh_scope,
            expires_at=refresh_expiry(expiries.refresh_idle, absolute),
            absolute_expires_at=absolute,
            created_at=now,
            resource=resource,
        )
    return Minted(access_token, refresh_token, NewTokens(access, refresh), expiries.access_ttl)


def _claims(
    settings: Settings,
    expiries: Expiries,
    client_id: str,
    user_id: str | None,
    scope: str,
    now: int,
    resource: str | None,
    jkt: str | None = None,
) -> AccessClaims:
    return AccessClaims(
        issuer=settings.issuer,
        subject=user_id or client_id,  # RFC 9068 §2.2: the client itself when no user is involved
        # RFC 8707 §2: the resources asked for; without any, the issuer (the demo API lives there)
        audience=resources.audience(resource, settings.issuer),
        client_id=client_id,
        scope=scope,
        issued_at=now,
        expires_at=expiries.access,
        jwt_id=secrets.token_urlsafe(16),
        jkt=jkt,
    )


@dataclass(frozen=True, slots=True)
class Drawn:
    """A redemption's new secrets, to hand out once, and what to store of them (entities.Successors)."""

    access_token: str
    refresh_token: str | None
    successors: Successors
    expires_in: int

    def minted(self, written: NewTokens) -> Minted:
        return Minted(self.access_token, self.refresh_token, written, self.expires_in)


def draw(
    settings: Settings,
    now: int,
    *,
    refresh: bool,
    new_family: bool,
    access_token: str | None = None,
    access_scope: str | None = None,
    access_resource: str | None = None,
    ttl: int | None = None,
    jkt: str | None = None,
    refresh_jkt: str | None = None,
) -> Drawn:
    """An access token (opaque unless given), and a refresh token if `refresh`, with the expiry times `mint` gives
    them: a new family's refresh token (from a code) expires at the latest `refresh_token_absolute_ttl` from now; a
    rotated one keeps the absolute expiry of the token it replaces. `ttl`: the access token's, if not the setting's."""
    expiries = Expiries.at(settings, now, ttl)
    access_token = access_token or tokens.new_secret(tokens.ACCESS_TOKEN)
    refresh_token = tokens.new_secret(tokens.REFRESH_TOKEN) if refresh else None
    successors = Successors(
        access_digest=tokens.digest(access_token),
        access_expires_at=expiries.access,
        refresh_digest=None if refresh_token is None else tokens.digest(refresh_token),
        refresh_expires_at=expiries.refresh_idle,
        refresh_absolute_expires_at=expiries.refresh_absolute if new_family else None,
        access_scope=access_scope,
        access_resource=access_resource,
        access_jkt=jkt,
        refresh_jkt=refresh_jkt,
    )
    return Drawn(access_token, refresh_token, successors, expiries.access_ttl)


class Issue:
    """The tokens one redemption hands out (store.Successor). Opaque ones with the grant's whole scope are drawn
    before the code or refresh token is read; a JWT, whose claims name the user and scope, or a narrower scope
    (`narrow`: the scope asked for, from the grant's, or raise) or other resources (`target`: the resources asked
    for, from the grant's, or raise; RFC 8707 §2.2) is made from what the store found, and so is a refresh token
    that depends on the grant's scope (`refresh_if`, X's `offline.access` rule). `ttl`: the access token's lifetime,
    if not the setting's. `jkt`: the DPoP key the access token is bound to (RFC 9449 §5), and the refresh token
    too when `bind_refresh` (a public client's)."""

    __slots__ = (
        "_client_id",
        "_drawn",
        "_jkt",
        "_refresh_jkt",
        "_narrow",
        "_new_family",
        "_now",
        "_refresh",
        "_refresh_if",
        "_settings",
        "_signer",
        "_target",
        "_ttl",
    )

    def __init__(
        self,
        settings: Settings,
        now: int,
        client_id: str,
        *,
        refresh: bool,
        new_family: bool,
        signer: Signer | None = None,
        narrow: Callable[[str], str] | None = None,
        refresh_if: Callable[[str], bool] | None = None,
        target: Callable[[str | None], str | None] | None = None,
        ttl: int | None = None,
        jkt: str | None = None,
        bind_refresh: bool = False,
    ) -> None:
        self._settings, self._now, self._client_id = settings, now, client_id
        self._jkt, self._refresh_jkt = jkt, jkt if bind_refresh else None
        self._refresh, self._new_family, self._signer, self._narrow = refresh, new_family, signer, narrow
        self._refresh_if, self._target, self._ttl = refresh_if, target, ttl
        eager = not (signer or narrow or refresh_if or target)
        self._drawn = (
            draw(settings, now, refresh=refresh, new_family=new_family, ttl=ttl, jkt=jkt, refresh_jkt=self._refresh_jkt)
            if eager
            else None
        )

    @property
    def drawn(self) -> Successors | None:
        return None if self._drawn is None else self._drawn.successors

    async def make(self, found: Found) -> Successors:
        scope = found.scope if self._narrow is None else self._narrow(found.scope)
        resource = found.resource if self._target is None else self._target(found.resource)
        access_token = None
        if self._signer is not None:
            expiries = Expiries.at(self._settings, self._now, self._ttl)
            claims = _claims(
                self._settings, expiries, self._client_id, found.user_id, scope, self._now, resource, self._jkt
            )
            access_token = await self._signer.sign(claims)
        access_scope = None if scope == found.scope else scope
        self._drawn = draw(
            self._settings,
            self._now,
            refresh=self._refresh and (self._refresh_if is None or self._refresh_if(found.scope)),
            new_family=self._new_family,
            access_token=access_token,
            access_scope=access_scope,
            access_resource=None if resource == found.resource else resource,
            ttl=self._ttl,
            jkt=self._jkt,
            refresh_jkt=self._refresh_jkt,
        )
        return self._drawn.successors

    def minted(self, written: NewTokens) -> Minted:
        """The answer, once the store has written the tokens."""
        if self._drawn is None:
            raise RuntimeError("the tokens were never made")
        return self._drawn.minted(written)
