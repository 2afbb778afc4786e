"""What a client that registered itself (RFC 7591) says of itself beyond its name: its web page (`client_uri`) and
its logo, fetched once at registration and kept as a data: URL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("website", sa.Text(), nullable=True))
        batch.add_column(sa.Column("logo", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("logo")
        batch.drop_column("website")
