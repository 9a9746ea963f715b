"""health profile

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The patient's health profile (issue 4): storage/schema.py, `profile_entry`.
    op.create_table(
        "profile_entry",
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("author_role", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ins", "id", name=op.f("pk_profile_entry")),
    )
    with op.batch_alter_table("profile_entry", schema=None) as batch_op:
        batch_op.create_index("ix_profile_entry_id", ["id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("profile_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_entry_id")
    op.drop_table("profile_entry")
