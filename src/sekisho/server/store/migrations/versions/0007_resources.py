"""Resource indicators (RFC 8707): the resources a client may name, and those of codes and tokens.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"  # h/mcp: chained after h/registration's 0006 (the lead re-chains at merge)
branch_labels = None
depends_on = None

_TOKENS = ("authorization_codes", "access_tokens", "refresh_tokens")


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("resources", sa.Text(), nullable=True))
    for table in _TOKENS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("resource", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in _TOKENS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("resource")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("resources")
