"""The initial schema: users, clients, grants, codes, tokens, sessions, server secrets, notes.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        _time("created_at"),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("grant_types", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=True),
        _time("created_at"),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        _time("created_at"),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
    )
    op.create_index("ix_grants_user_id", "grants", ["user_id"])
    op.create_table(
        "authorization_codes",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(64), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("consumed_at", nullable=True),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])
    op.create_table(
        "access_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(32), nullable=True),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("revoked_at", nullable=True),
    )
    op.create_index("ix_access_tokens_grant_id", "access_tokens", ["grant_id"])
    op.create_index("ix_access_tokens_expires_at", "access_tokens", ["expires_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("absolute_expires_at"),
        _time("consumed_at", nullable=True),
        _time("revoked_at", nullable=True),
    )
    op.create_index("ix_refresh_tokens_grant_id", "refresh_tokens", ["grant_id"])
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_table(
        "sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        _time("created_at"),
        _time("expires_at"),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        _time("created_at"),
    )
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        _time("last_failure_at"),
        _time("blocked_until"),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("cw", sa.Text(), nullable=True),
        _time("created_at"),
    )
    op.create_index("ix_notes_user_id_id", "notes", ["user_id", "id"])


def downgrade() -> None:
    for table in (
        "notes",
        "login_throttles",
        "server_secrets",
        "sessions",
        "refresh_tokens",
        "access_tokens",
        "authorization_codes",
        "grants",
        "clients",
        "users",
    ):
        op.drop_table(table)
