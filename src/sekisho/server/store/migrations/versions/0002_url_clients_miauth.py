"""URL clients' cached pages, and MiAuth sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "url_clients",
        sa.Column("client_id", sa.String(2048), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("logo", sa.Text(), nullable=True),
        sa.Column("client_uri", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_url_clients_expires_at", "url_clients", ["expires_at"])
    op.create_table(
        "miauth_sessions",
        sa.Column("session", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("allowed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("consumed_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_miauth_sessions_expires_at", "miauth_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("miauth_sessions")
    op.drop_table("url_clients")
