"""DPoP (RFC 9449): the proofs seen (each used once, across servers), the key a token or code is bound to, and
the clients that must use DPoP.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BOUND = ("authorization_codes", "access_tokens", "refresh_tokens")


def upgrade() -> None:
    op.create_table(
        "dpop_proofs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_dpop_proofs_expires_at", "dpop_proofs", ["expires_at"])
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("require_dpop", sa.BigInteger(), nullable=False, server_default="0"))
    for table in _BOUND:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("jkt", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in _BOUND:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("jkt")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("require_dpop")
    op.drop_index("ix_dpop_proofs_expires_at", "dpop_proofs")
    op.drop_table("dpop_proofs")
