"""claims

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim",
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("care_date", sa.Date(), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("performer_rpps", sa.String(length=11), nullable=True),
        sa.Column("performer_name", sa.String(length=100), nullable=True),
        sa.Column("performer_profession", sa.String(length=2), nullable=True),
        sa.Column("prescriber_rpps", sa.String(length=11), nullable=True),
        sa.Column("facility_finess", sa.String(length=9), nullable=True),
        sa.PrimaryKeyConstraint("ins", "care_date", "claim_id", name=op.f("pk_claim")),
    )
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.create_index("ix_claim_claim_id", ["claim_id"], unique=True)

    op.create_table(
        "claim_import",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("read", sa.BigInteger(), nullable=False),
        sa.Column("inserted", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("conflicts", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("unknown", sa.BigInteger(), nullable=False),
        sa.Column("outside", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_claim_import")),
    )


def downgrade() -> None:
    op.drop_table("claim_import")
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_claim_id")
    op.drop_table("claim")
