"""Mint access and refresh tokens, and the token response (RFC 6749 §5.1)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sekisho.protocol import tokens
from sekisho.protocol.jwt_access import AccessClaims
from sekisho.server.entities import AccessToken, NewTokens, RefreshToken, Successors, refresh_expiry
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import Signer


@dataclass(frozen=True, slots=True)
class Minted:
    """Secrets to hand out once, and the digests to persist."""

    access_token: str
    refresh_token: str | None
    records: NewTokens
    expires_in: int

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
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
) -> Minted:
    """An access token, and a refresh token when `refresh_scope` is given (the grant's full scope).

    With a `signer` the access token is an RFC 9068 JWT; its digest is stored all the same, so revocation,
    introspection and same-process verification treat both formats alike.
    """
    if signer is None:
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
        )
    expiries = Expiries.at(settings, now, ttl)
    claims = AccessClaims(
        issuer=settings.issuer,
        subject=user_id or client_id,  # RFC 9068 §2.2: the client itself when no user is involved
        audience=settings.issuer,  # the demo API lives at the issuer; resource servers check it
        client_id=client_id,
        scope=scope,
        issued_at=now,
        expires_at=expiries.access,
        jwt_id=secrets.token_urlsafe(16),
    )
    access_token = await signer.sign(claims)
    return _minted(access_token, expiries, grant_id, client_id, user_id, scope, now, refresh_scope, absolute_expires_at)


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
) -> Minted:
    """`mint` with an opaque access token, for a caller that cannot wait (a store's callback, as MiAuth's
    redemption)."""
    access_token = tokens.new_secret(tokens.ACCESS_TOKEN)
    expiries = Expiries.at(settings, now, ttl)
    return _minted(access_token, expiries, grant_id, client_id, user_id, scope, now, refresh_scope, absolute_expires_at)


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
) -> Minted:
    access = AccessToken(
        digest=tokens.digest(access_token),
        grant_id=grant_id,
        client_id=client_id,
        user_id=user_id,
        scope=scope,
        expires_at=expiries.access,
        created_at=now,
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
        )
    return Minted(access_token, refresh_token, NewTokens(access, refresh), expiries.access_ttl)


@dataclass(frozen=True, slots=True)
class Drawn:
    """Opaque secrets drawn before the code or refresh token they succeed is read (an unread redemption, see
    Store.redeem_code_unread): what to store of them, and the answer once stored."""

    access_token: str
    refresh_token: str | None
    successors: Successors
    expires_in: int

    def minted(self, written: NewTokens) -> Minted:
        return Minted(self.access_token, self.refresh_token, written, self.expires_in)


def draw(settings: Settings, now: int, *, refresh: bool, new_family: bool) -> Drawn:
    """An opaque access token, and a refresh token if `refresh`, with the expiry times `mint` gives them: a new
    family's refresh token (from a code) expires at the latest `refresh_token_absolute_ttl` from now; a rotated one
    keeps the absolute expiry of the token it replaces."""
    expiries = Expiries.at(settings, now)
    access_token = tokens.new_secret(tokens.ACCESS_TOKEN)
    refresh_token = tokens.new_secret(tokens.REFRESH_TOKEN) if refresh else None
    successors = Successors(
        access_digest=tokens.digest(access_token),
        access_expires_at=expiries.access,
        refresh_digest=None if refresh_token is None else tokens.digest(refresh_token),
        refresh_expires_at=expiries.refresh_idle,
        refresh_absolute_expires_at=expiries.refresh_absolute if new_family else None,
    )
    return Drawn(access_token, refresh_token, successors, expiries.access_ttl)
