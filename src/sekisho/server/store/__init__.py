"""The storage contract the services talk to, one protocol per concern (each states its invariants);
`sql.SqlStore` implements it over SQLite and PostgreSQL. Secrets (codes, tokens, sessions, client secrets) are only
ever stored as SHA-256 digests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sekisho.server.client_documents import ClientMetadata
from sekisho.server.entities import (
    AccessToken,
    AuthorizationCode,
    Client,
    DeviceCode,
    Grant,
    LoginAttempts,
    MiAuthSession,
    NewTokens,
    PushedRequest,
    RefreshToken,
    RegistrationToken,
    Reservation,
    SigningKey,
    Successors,
    User,
)

Reason = Literal[
    "client_gone",
    "unknown",
    "other_client",
    "replayed",
    "revoked",
    "expired",
    "redirect_uri",
    "verifier",
    "dpop_key",  # RFC 9449 §5, §10: bound to a DPoP key the request's proof is not made with
    "pending",  # device codes (RFC 8628 §3.5): not decided yet, polled after the interval
    "slow_down",  # not decided yet, polled sooner than the interval
    "denied",
]


@dataclass(frozen=True, slots=True)
class Redeemed:
    """The code or refresh token was consumed and `tokens` persisted with it."""

    tokens: NewTokens


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was consumed or written, for `reason`; a replay names the grant to revoke."""

    reason: Reason
    grant_id: str | None = None


Outcome = Redeemed | Refused


@dataclass(frozen=True, slots=True)
class CodeAsk:
    """An authorization code presented at the token endpoint (RFC 6749 §4.1.3)."""

    digest: str = field(repr=False)
    client: Client
    redirect_uri: str
    code_challenge: str | None  # the S256 challenge of the verifier sent; None if it is missing or malformed
    now: int
    jkt: str | None = None  # RFC 9449: the thumbprint of the request's DPoP proof key; None: no proof


@dataclass(frozen=True, slots=True)
class RefreshAsk:
    """A refresh token presented at the token endpoint (RFC 6749 §6)."""

    digest: str = field(repr=False)
    client: Client
    now: int
    jkt: str | None = None  # RFC 9449: the thumbprint of the request's DPoP proof key; None: no proof


@dataclass(frozen=True, slots=True)
class DeviceAsk:
    """A device code presented at the token endpoint (RFC 8628 §3.4)."""

    digest: str = field(repr=False)
    client: Client
    now: int


@dataclass(frozen=True, slots=True)
class Found:
    """What a redemption took from the code or refresh token it consumes, for successors made after reading it."""

    grant_id: str
    user_id: str
    scope: str
    resource: str | None = None  # RFC 8707: the resources authorized, space-separated


class Successor(Protocol):
    """The tokens a redemption hands out: `drawn` before anything is read (then the store may find, check, consume
    and insert in one statement), or, when None, `make` from what was found (a JWT's claims, a narrower scope)."""

    @property
    def drawn(self) -> Successors | None: ...
    async def make(self, found: Found) -> Successors: ...


def _standing(found: AuthorizationCode | RefreshToken | None, client: Client, current: bool) -> Refused | None:
    """What every redemption refuses first: a client no longer registered, nothing found, another client's secret
    and a used one (a replay, which names the grant to revoke: RFC 6749 §4.1.2, RFC 9700 §4.14.2)."""
    if not current:
        return Refused("client_gone")
    if found is None:
        return Refused("unknown")
    # RFC 6749 §4.1.3, §6: the secret must be this client's. Checked before the replay test, so another client
    # cannot end the owner's grant by presenting a used one it saw somewhere (a log, a Referer): nothing revoked.
    if found.client_id != client.client_id:
        return Refused("other_client")
    if found.consumed_at is not None:
        return Refused("replayed", found.grant_id)
    return None


def code_refusal(ask: CodeAsk, code: AuthorizationCode | None, client_current: bool) -> Refused | None:
    """Why the code cannot be redeemed, from the row found (before any consumption), or None."""
    if (refused := _standing(code, ask.client, client_current)) is not None or code is None:
        return refused
    if code.expires_at <= ask.now:
        return Refused("expired")
    # RFC 6749 §4.1.3: redirect_uri must be identical to the one in the authorization request.
    if code.redirect_uri != ask.redirect_uri:
        return Refused("redirect_uri")
    # RFC 7636 §4.6: the verifier must hash to the challenge bound to the code.
    if ask.code_challenge is None or ask.code_challenge != code.code_challenge:
        return Refused("verifier")
    # RFC 9449 §10: a code bound to a key by `dpop_jkt` is exchanged only with a proof made with that key.
    if code.jkt is not None and code.jkt != ask.jkt:
        return Refused("dpop_key")
    return None


def refresh_refusal(ask: RefreshAsk, token: RefreshToken | None, client_current: bool) -> Refused | None:
    """Why the refresh token cannot be rotated, from the row found (before any consumption), or None."""
    if (refused := _standing(token, ask.client, client_current)) is not None or token is None:
        return refused
    if token.revoked_at is not None:
        return Refused("revoked")
    if token.expires_at <= ask.now:
        return Refused("expired")
    # RFC 9449 §5: a public client's bound refresh token is used only with a proof made with its key.
    if token.jkt is not None and token.jkt != ask.jkt:
        return Refused("dpop_key")
    return None


SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: seconds added to the interval at each slow_down


def device_refusal(ask: DeviceAsk, device: DeviceCode | None, client_current: bool) -> Refused | None:
    """Why the device code gives no tokens now, from the row found (locked), or None when it is approved."""
    if not client_current:
        return Refused("client_gone")
    if device is None:
        return Refused("unknown")
    if device.client_id != ask.client.client_id:
        return Refused("other_client")
    if device.status == "consumed":
        return Refused("replayed", device.grant_id)
    if device.expires_at <= ask.now:
        return Refused("expired")
    if device.status == "denied":
        return Refused("denied")
    if device.status == "pending":
        # RFC 8628 §3.5: a poll sooner than the interval after the last one is told to slow down.
        if device.last_poll_at is not None and ask.now - device.last_poll_at < device.interval:
            return Refused("slow_down")
        return Refused("pending")
    return None


class Users(Protocol):
    """Accounts and their login sessions (session secrets as digests). `remove` takes the user's grants, codes,
    tokens and sessions with it, in one transaction."""

    async def add(self, user: User) -> None: ...
    async def find(self, user_id: str) -> User | None: ...
    async def find_by_name(self, username: str) -> User | None: ...
    async def all(self) -> list[User]: ...
    async def count(self) -> int: ...
    async def set_password(self, user_id: str, password_hash: str) -> None: ...
    async def remove(self, user_id: str) -> bool: ...
    async def create_session(self, digest: str, user_id: str, now: int, expires_at: int) -> None: ...
    async def find_session_user(self, digest: str, now: int) -> User | None: ...
    async def delete_session(self, digest: str) -> None: ...


class Clients(Protocol):
    """Registered clients, URL clients' fetched pages, and the names (and logos) apps go by.

    A registration never changes, it only goes (`remove` takes its grants and tokens with it). `recall` may answer
    from memory a client remembered with the secret digest presented; every statement a recalled client is used in
    (`Grants.redeem_code`, `rotate_refresh_token`, `issue_client_token`, `inspect_*`) re-checks that it is still
    registered with that secret, so memory is only ever out of date by a removal, which those refuse. `find` always
    reads."""

    async def add(self, client: Client) -> None: ...
    async def find(self, client_id: str) -> Client | None: ...
    async def recall(self, client_id: str, secret_digest: str | None) -> Client | None: ...
    async def all(self) -> list[Client]: ...
    async def remove(self, client_id: str) -> bool: ...
    async def app_name(self, client_id: str) -> str | None: ...
    async def logo(self, client_id: str) -> str | None: ...
    async def find_url_client(self, client_id: str, now: int) -> ClientMetadata | None: ...
    async def save_url_client(self, found: ClientMetadata, now: int, expires_at: int) -> None: ...


class Registrations(Protocol):
    """Dynamic client registration (RFC 7591): initial access tokens (digests) and the clients that register
    themselves. `register` stores the client and, when it names a token, spends one of the token's uses, in one
    transaction: False, with nothing stored, when that token is unknown, expired or used up (of parallel
    registrations with a token's last use, exactly one succeeds)."""

    async def add_token(self, token: RegistrationToken) -> None: ...
    async def tokens(self) -> list[RegistrationToken]: ...
    async def remove_token(self, digest: str) -> bool: ...
    async def token_usable(self, digest: str, now: int) -> bool: ...
    async def register(self, client: Client, token_digest: str | None, now: int) -> bool: ...


class Grants(Protocol):
    """Grants, authorization codes, access and refresh tokens (secrets as digests).

    `redeem_code` and `rotate_refresh_token` are one call per redemption: they find the code or refresh token, check
    it (`code_refusal`, `refresh_refusal`, from what was found), consume it and persist its successors atomically,
    and answer `Redeemed` or `Refused(reason)`. Single use holds under concurrency: of parallel redemptions of one
    secret exactly one is `Redeemed`, the others `Refused("replayed")`. Whether that takes one statement, a batch or
    a transaction is the store's business. The client they, `issue_client_token` and `inspect_*` name may have been
    recalled from memory (`Clients.recall`): the statement re-checks it is still registered with the same secret,
    and refuses with `client_gone` (or answers False), forgetting it, when not. `revoke_grant` revokes every access
    and refresh token that carries the grant's id."""

    async def issue_code(self, grant: Grant, code: AuthorizationCode) -> None: ...
    async def find_code(self, digest: str) -> AuthorizationCode | None: ...
    async def redeem_code(self, ask: CodeAsk, successor: Successor) -> Outcome: ...
    async def issue_client_token(self, token: AccessToken, client: Client) -> bool: ...
    async def find_access_token(self, digest: str, now: int) -> AccessToken | None: ...
    async def inspect_access_token(self, digest: str, now: int, caller: Client) -> tuple[bool, AccessToken | None]: ...
    async def find_refresh_token(self, digest: str) -> RefreshToken | None: ...
    async def inspect_refresh_token(self, digest: str, caller: Client) -> tuple[bool, RefreshToken | None]: ...
    async def rotate_refresh_token(self, ask: RefreshAsk, successor: Successor) -> Outcome: ...
    async def revoke_access_token(self, digest: str, now: int) -> None: ...
    async def revoke_grant(self, grant_id: str, now: int) -> None: ...
    async def list_user_grants(self, user_id: str) -> list[tuple[Grant, int | None]]: ...


class Throttle(Protocol):
    """Attempts per account and per address: logins (throttle.py holds the rules) and device code entries
    (device.py), under keys of their own."""

    async def reserve(
        self, user_key: str, addr_key: str, now: int, decide: Callable[[LoginAttempts, LoginAttempts], Reservation]
    ) -> Reservation:
        """Judge (`decide`) and count an attempt atomically with every other attempt on the same keys, from any
        process on the database."""
        ...

    async def forgive(self, user_key: str, addr_key: str) -> None: ...


class MiAuth(Protocol):
    """MiAuth sessions (Misskey's app authorization): decided once, redeemed once."""

    async def record(self, session: MiAuthSession) -> bool: ...
    async def redeem(
        self, session: str, now: int, mint: Callable[[str, str, str], tuple[Grant, NewTokens]]
    ) -> tuple[str, NewTokens] | None: ...


class Devices(Protocol):
    """RFC 8628 device codes (the device code as a digest; the user code normalized, unique among live ones).

    `add` refuses (False) a user code a live row holds; an expired row gives it up. `decide` records the user's
    decision on a pending, unexpired code once (with the grant it creates, when approved), else False. `poll` is
    one transaction per poll, the row locked: it judges the code (`device_refusal`); a pending one records the poll
    (and raises the interval by `SLOW_DOWN_STEP` on slow_down); an approved one is consumed and its tokens
    (`successor`) written with it, unless its grant was revoked meanwhile (then `Refused("denied")`). Of parallel
    polls of one approved code exactly one is `Redeemed`."""

    async def add(self, device: DeviceCode, now: int) -> bool: ...
    async def find(self, user_code: str) -> DeviceCode | None: ...
    async def decide(self, user_code: str, now: int, grant: Grant | None) -> bool: ...
    async def poll(self, ask: DeviceAsk, successor: Successor) -> Outcome: ...


class PushedRequests(Protocol):
    """RFC 9126 pushed authorization requests (the request_uri's random part as a digest), each bound to the
    client that pushed it. `find` and `take` see only a live one (unexpired) of that client; `take` also removes
    it, so of parallel takes of one request, from any process on the database, exactly one gets its parameters."""

    async def add(self, pushed: PushedRequest) -> None: ...
    async def find(self, digest: str, client_id: str, now: int) -> str | None: ...
    async def take(self, digest: str, client_id: str, now: int) -> str | None: ...


class Keys(Protocol):
    """The server's own secrets (first writer wins) and its JWT signing keys."""

    async def server_secret(self, name: str, candidate: str, now: int) -> str: ...
    async def list_signing_keys(self) -> list[SigningKey]: ...
    async def add_signing_key(self, key: SigningKey, *, retire_others: bool) -> None: ...
    async def delete_signing_keys_retired_before(self, before: int) -> None: ...


class Proofs(Protocol):
    """DPoP proofs seen (RFC 9449 §11.1), shared by every server on the database: `use` records a proof's digest
    until `expires_at` and says whether it was new; of parallel uses of one digest exactly one is True."""

    async def use(self, digest: str, expires_at: int) -> bool: ...


class Store(Protocol):
    """The whole store: one part per concern, and what concerns the database as a whole."""

    @property
    def users(self) -> Users: ...
    @property
    def clients(self) -> Clients: ...
    @property
    def grants(self) -> Grants: ...
    @property
    def throttle(self) -> Throttle: ...
    @property
    def miauth(self) -> MiAuth: ...
    @property
    def keys(self) -> Keys: ...
    @property
    def registrations(self) -> Registrations: ...
    @property
    def devices(self) -> Devices: ...
    @property
    def pushed_requests(self) -> PushedRequests: ...
    @property
    def proofs(self) -> Proofs: ...

    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def purge_batch(self, table: str, *, cutoff: int, now: int, batch: int) -> int: ...
