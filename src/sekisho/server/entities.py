"""Frozen records the services and the store exchange. Times are integer Unix seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    password_hash: str = field(repr=False)
    created_at: int


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...] | None  # None: any scope the server knows
    secret_digest: str | None = field(repr=False)  # None: a public client
    created_at: int
    logo: str | None = None  # a data: URL (URL clients; a registered client's is read by Clients.logo alone)
    client_uri: str | None = None  # the client_id page (URL clients)
    resource_server: bool = False  # may introspect and revoke any client's tokens (RFC 7662 §2.1)
    dynamic: bool = False  # registered itself at /oauth/register (RFC 7591); vetted by nobody
    resources: tuple[str, ...] = ()  # RFC 8707: resources this client may name, besides the server's
    require_par: bool = False  # RFC 9126 §6: its authorization requests must be pushed first (/oauth/par)
    require_dpop: bool = False  # RFC 9449: every token request must carry a DPoP proof
    website: str | None = None  # RFC 7591 client_uri of a client that registered itself: its own word, unchecked

    @property
    def is_public(self) -> bool:
        return self.secret_digest is None


@dataclass(frozen=True, slots=True)
class RegistrationToken:
    """An initial access token for dynamic registration (RFC 7591 §3): good until `expires_at` (None: always) for
    `uses_left` more registrations (None: any number)."""

    digest: str = field(repr=False)
    created_at: int
    expires_at: int | None
    uses_left: int | None


@dataclass(frozen=True, slots=True)
class PushedRequest:
    """A pushed authorization request (RFC 9126): its request_uri's random part as a digest, the client that
    pushed it, its checked parameters (JSON name-value pairs, `AuthorizationRequest.form_fields`) and when it
    expires."""

    digest: str = field(repr=False)
    client_id: str
    params: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Grant:
    """One consent of a user to a client; every code and token of one authorization carries its id."""

    id: str
    user_id: str
    client_id: str
    scope: str
    created_at: int


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    digest: str = field(repr=False)
    grant_id: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    expires_at: int
    consumed_at: int | None = None
    resource: str | None = None  # RFC 8707: the resources authorized, space-separated; None: none named
    jkt: str | None = None  # RFC 9449 §10: `dpop_jkt`, the key a DPoP proof at the exchange must be made with


@dataclass(frozen=True, slots=True)
class AccessToken:
    digest: str = field(repr=False)
    grant_id: str | None
    client_id: str
    user_id: str | None
    scope: str
    expires_at: int
    created_at: int
    resource: str | None = None  # RFC 8707: its audience, space-separated; None: the server's default (the issuer)
    jkt: str | None = None  # RFC 9449 §6: the thumbprint of the key it is bound to; None: a bearer token


@dataclass(frozen=True, slots=True)
class RefreshToken:
    digest: str = field(repr=False)
    grant_id: str
    client_id: str
    user_id: str
    scope: str
    expires_at: int
    absolute_expires_at: int
    created_at: int
    consumed_at: int | None = None
    revoked_at: int | None = None
    resource: str | None = None  # RFC 8707: the grant's resources, which a refresh may narrow; None: none named
    jkt: str | None = None  # RFC 9449 §5: a public client's key, which every refresh must prove; None: unbound


@dataclass(frozen=True, slots=True)
class NewTokens:
    """Tokens to persist in one transaction with the step that earns them."""

    access: AccessToken
    refresh: RefreshToken | None


def refresh_expiry(idle_expires_at: int, absolute_expires_at: int) -> int:
    """A refresh token's expiry: its idle expiry, never past its family's absolute one (LEAST in the unread
    redemption's statement, store/queries.py)."""
    return min(idle_expires_at, absolute_expires_at)


@dataclass(frozen=True, slots=True)
class Successors:
    """What a redemption (Grants.redeem_code, Grants.rotate_refresh_token) writes of the new tokens: their digests and
    expiry times. Grant, user and scope come from what is consumed, and the new refresh token's expiry is capped by
    its absolute expiry."""

    access_digest: str = field(repr=False)
    access_expires_at: int
    refresh_digest: str | None = field(repr=False)  # None: no refresh token (the client lacks the grant type)
    refresh_expires_at: int  # the idle expiry
    refresh_absolute_expires_at: int | None  # None: the refresh token consumed keeps its own
    access_scope: str | None = None  # None: the whole scope of what is consumed
    access_resource: str | None = None  # None: the resources of what is consumed (RFC 8707)
    access_jkt: str | None = None  # RFC 9449: the DPoP key the access token is bound to; None: a bearer token
    refresh_jkt: str | None = None  # RFC 9449 §5: the key a public client's refresh token is bound to


DeviceStatus = Literal["pending", "approved", "denied", "consumed"]


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """An RFC 8628 device authorization: the device code (as a digest) the device polls with and the user code a
    person enters; approved, it names the user and the grant the tokens will carry."""

    digest: str = field(repr=False)
    user_code: str  # normalized: 8 letters, no dash
    client_id: str
    scope: str
    created_at: int
    expires_at: int
    interval: int  # seconds the device must wait between polls (raised by slow_down)
    last_poll_at: int | None = None
    status: DeviceStatus = "pending"
    user_id: str | None = None
    grant_id: str | None = None
    resource: str | None = None  # RFC 8707: the resources asked for, space-separated; None: the issuer


@dataclass(frozen=True, slots=True)
class Session:
    digest: str = field(repr=False)
    user_id: str
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    user_id: str
    text: str
    visibility: str
    cw: str | None
    created_at: int
    reply_id: str | None = None  # the note this one answers (Misskey's `replyId`, X's `in_reply_to_tweet_id`)
    local_only: bool = False  # Misskey's `localOnly`: never federated (nothing is, here)


@dataclass(frozen=True, slots=True)
class MiAuthSession:
    """A user's decision on a MiAuth session (Misskey's page-less flow)."""

    session: str
    user_id: str
    name: str
    scope: str
    allowed: int  # 1 allowed, 0 denied
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A JWT signing key (RFC 9068); published in the JWKS until its tokens have expired after retirement."""

    kid: str
    algorithm: str
    private_jwk: str = field(repr=False)  # JSON
    created_at: int
    retired_at: int | None = None


@dataclass(frozen=True, slots=True)
class LoginAttempts:
    """One login-throttle key's recent attempts: those counted and not forgiven, the last one's time, and until when
    the key is refused."""

    failures: int
    last_at: int
    blocked_until: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """The throttle's answer to one login attempt: refused for `retry_after` seconds (nothing counted), or admitted
    after a pause of `delay` seconds, with the rows to store for the account and the address."""

    retry_after: int
    delay: int
    account: LoginAttempts | None = None
    address: LoginAttempts | None = None
