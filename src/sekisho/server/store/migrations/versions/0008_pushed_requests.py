"""Pushed authorization requests (RFC 9126): the requests pushed to /oauth/par, and the clients that must push.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("require_par", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "pushed_requests",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_pushed_requests_expires_at", "pushed_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_pushed_requests_expires_at", table_name="pushed_requests")
    op.drop_table("pushed_requests")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("require_par")
