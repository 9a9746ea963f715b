"""claim: claim_id is the primary key; the care history reads an index of the INS

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 07:00:00

Every imported line paid two B-tree inserts: the unique claim_id index (rising ids,
appended at its right edge) and the (ins, care_date, claim_id) primary key, wide and in
random order. The claim_id index becomes the primary key as it is (PostgreSQL: no
rebuild) and a record's history (RULES R5) reads `ix_claim_ins`, the INS alone, which
PostgreSQL deduplicates to a sixth of the former key's size (decision 0010). SQLite
rebuilds the table, clustered by claim_id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_claim", "claim", type_="primary")
        # The unique claim_id index becomes the key as it is: no rebuild of the index.
        op.execute(
            "ALTER TABLE claim ADD CONSTRAINT pk_claim PRIMARY KEY USING INDEX ix_claim_claim_id"
        )
        op.create_index("ix_claim_ins", "claim", ["ins"])
        return
    _rebuild_sqlite(sa.PrimaryKeyConstraint("claim_id", name="pk_claim"), sqlite_with_rowid=False)
    op.create_index("ix_claim_ins", "claim", ["ins"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_claim_ins", table_name="claim")
        op.drop_constraint("pk_claim", "claim", type_="primary")
        op.create_index("ix_claim_claim_id", "claim", ["claim_id"], unique=True)
        op.create_primary_key("pk_claim", "claim", ["ins", "care_date", "claim_id"])
        return
    _rebuild_sqlite(sa.PrimaryKeyConstraint("ins", "care_date", "claim_id", name="pk_claim"))
    op.create_index("ix_claim_claim_id", "claim", ["claim_id"], unique=True)


def _rebuild_sqlite(key: sa.PrimaryKeyConstraint, **options: bool) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows, the name."""
    op.create_table("claim_rebuilt", *_columns(), key, **options)
    names = ", ".join(c.name for c in _columns())
    op.execute(f"INSERT INTO claim_rebuilt ({names}) SELECT {names} FROM claim")
    op.drop_table("claim")  # and its indexes
    op.rename_table("claim_rebuilt", "claim")


def _columns() -> list[sa.Column[object]]:
    return [
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
    ]
