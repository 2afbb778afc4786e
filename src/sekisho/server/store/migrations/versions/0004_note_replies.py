"""Notes: the note a note replies to, and Misskey's `localOnly`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("reply_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("local_only", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("local_only")
        batch.drop_column("reply_id")
