"""The one SQL schema, for SQLite and PostgreSQL (SQLAlchemy Core). Migrations live in migrations/.

Times are integer Unix seconds; secrets are SHA-256 hex digests; lists are space-separated text.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, MetaData, String, Table, Text

metadata = MetaData()


def _time(name: str, *, nullable: bool = False) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    _time("created_at"),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("secret_digest", String(64), nullable=True),
    Column("redirect_uris", Text, nullable=False),
    Column("grant_types", Text, nullable=False),
    Column("scopes", Text, nullable=True),
    Column("resource_server", BigInteger, nullable=False, server_default="0"),  # 1: may introspect any token
    Column("resources", Text, nullable=True),  # RFC 8707: resources this client may name, besides the server's
    _time("created_at"),
    Column("dynamic", BigInteger, nullable=False, server_default="0"),  # 1: registered itself (RFC 7591)
    Column("require_par", BigInteger, nullable=False, server_default="0"),  # 1: must push its requests (RFC 9126)
    Column("require_dpop", BigInteger, nullable=False, server_default="0"),  # 1: token requests need DPoP
    Column("website", Text, nullable=True),  # RFC 7591 client_uri, as a client that registered itself gave it
    Column("logo", Text, nullable=True),  # its logo_uri's image as a data: URL, fetched once at registration
    Index("ix_clients_dynamic_created_at", "dynamic", "created_at"),
)

registration_tokens = Table(
    "registration_tokens",  # initial access tokens for `serve --registration token` (RFC 7591 §3)
    metadata,
    Column("digest", String(64), primary_key=True),
    _time("created_at"),
    _time("expires_at", nullable=True),  # NULL: never expires
    Column("uses_left", BigInteger, nullable=True),  # NULL: any number of registrations
)

grants = Table(
    "grants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", Text, nullable=False),
    Column("scope", Text, nullable=False),
    _time("created_at"),
    _time("last_used_at", nullable=True),
    _time("revoked_at", nullable=True),
    Index("ix_grants_user_id", "user_id"),
    Index("ix_grants_client_id", "client_id"),  # the purge of dynamically registered clients with no grant
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("grant_id", String(32), nullable=False),
    Column("client_id", Text, nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("code_challenge", String(64), nullable=False),
    _time("created_at"),
    _time("expires_at"),
    _time("consumed_at", nullable=True),
    Column("resource", Text, nullable=True),  # RFC 8707: space-separated resource URIs
    Column("jkt", String(64), nullable=True),  # RFC 9449: the DPoP key thumbprint it is bound to
    Index("ix_authorization_codes_expires_at", "expires_at"),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("grant_id", String(32), nullable=True),
    Column("client_id", Text, nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("scope", Text, nullable=False),
    _time("created_at"),
    _time("expires_at"),
    _time("revoked_at", nullable=True),
    Column("resource", Text, nullable=True),  # RFC 8707: space-separated resource URIs
    Column("jkt", String(64), nullable=True),  # RFC 9449: the DPoP key thumbprint it is bound to
    Index("ix_access_tokens_grant_id", "grant_id"),
    Index("ix_access_tokens_expires_at", "expires_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("grant_id", String(32), nullable=False),
    Column("client_id", Text, nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("scope", Text, nullable=False),
    _time("created_at"),
    _time("expires_at"),
    _time("absolute_expires_at"),
    _time("consumed_at", nullable=True),
    _time("revoked_at", nullable=True),
    Column("resource", Text, nullable=True),  # RFC 8707: space-separated resource URIs
    Column("jkt", String(64), nullable=True),  # RFC 9449: the DPoP key thumbprint it is bound to
    Index("ix_refresh_tokens_grant_id", "grant_id"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    _time("created_at"),
    _time("expires_at"),
    Index("ix_sessions_expires_at", "expires_at"),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    _time("created_at"),
)

signing_keys = Table(
    "signing_keys",  # RFC 9068 access-token keys; the newest unretired one signs
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_jwk", Text, nullable=False),
    _time("created_at"),
    _time("retired_at", nullable=True),
)

login_throttles = Table(
    "login_throttles",
    metadata,
    Column("key", String(320), primary_key=True),  # "user:NAME" or "addr:IP"
    Column("failures", BigInteger, nullable=False),
    _time("last_failure_at"),
    _time("blocked_until"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("cw", Text, nullable=True),
    _time("created_at"),
    Column("reply_id", String(32), nullable=True),  # no foreign key: a reply outlives the note it answered
    Column("local_only", BigInteger, nullable=False, server_default="0"),  # 0 or 1
    Index("ix_notes_user_id_id", "user_id", "id"),
)


url_clients = Table(
    "url_clients",  # what a URL client id's page said, kept within HTTP caching rules (errors never)
    metadata,
    Column("client_id", String(2048), primary_key=True),
    Column("name", Text, nullable=False),
    Column("redirect_uris", Text, nullable=False),
    Column("logo", Text, nullable=True),  # a data: URL, fetched safely; never hot-linked
    Column("client_uri", Text, nullable=True),
    _time("fetched_at"),
    _time("expires_at"),
    Index("ix_url_clients_expires_at", "expires_at"),
)

miauth_sessions = Table(
    "miauth_sessions",  # Misskey's MiAuth: the user's decision, redeemed once by /api/miauth/{session}/check
    metadata,
    Column("session", String(128), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("allowed", BigInteger, nullable=False),  # 1 allowed, 0 denied
    _time("created_at"),
    _time("expires_at"),
    _time("consumed_at", nullable=True),
    Index("ix_miauth_sessions_expires_at", "expires_at"),
)

device_codes = Table(
    "device_codes",  # RFC 8628: the device polls with its code (a digest here), a person enters the user code
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_code", String(16), nullable=False, unique=True),  # normalized; an expired row goes before reuse
    Column("client_id", Text, nullable=False),
    Column("scope", Text, nullable=False),
    _time("created_at"),
    _time("expires_at"),
    Column("interval", BigInteger, nullable=False),
    _time("last_poll_at", nullable=True),
    Column("status", String(16), nullable=False),  # pending, approved, denied, consumed
    Column("user_id", String(32), nullable=True),
    Column("grant_id", String(32), nullable=True),
    Column("resource", Text, nullable=True),  # RFC 8707: the resources asked for, space-separated
    Index("ix_device_codes_expires_at", "expires_at"),
)

pushed_requests = Table(
    "pushed_requests",  # RFC 9126: authorization requests pushed to /oauth/par, each used once
    metadata,
    Column("digest", String(64), primary_key=True),  # of the request_uri's random part
    Column("client_id", Text, nullable=False),
    Column("params", Text, nullable=False),  # the checked request, JSON name-value pairs
    _time("expires_at"),
    Index("ix_pushed_requests_expires_at", "expires_at"),
)


dpop_proofs = Table(
    "dpop_proofs",  # RFC 9449 §11.1: the DPoP proofs seen, by a digest of key and jti, until they are too old
    metadata,
    Column("digest", String(64), primary_key=True),
    _time("expires_at"),
    Index("ix_dpop_proofs_expires_at", "expires_at"),
)
