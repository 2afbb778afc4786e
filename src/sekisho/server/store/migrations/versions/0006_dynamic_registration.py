"""Dynamic client registration (RFC 7591): which clients registered themselves, and initial access tokens.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("dynamic", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_clients_dynamic_created_at", "clients", ["dynamic", "created_at"])
    op.create_index("ix_grants_client_id", "grants", ["client_id"])
    op.create_table(
        "registration_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("uses_left", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("registration_tokens")
    op.drop_index("ix_grants_client_id", table_name="grants")
    op.drop_index("ix_clients_dynamic_created_at", table_name="clients")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("dynamic")
