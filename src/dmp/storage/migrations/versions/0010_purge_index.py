"""the purge's index holds closed records only, by closure time then INS

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 06:20:00

`ix_record_closed_at` held every record, open ones with a NULL key no query reads (an
entry paid by every opening and imported record), and the purge paged by INS, which
made the planners walk the primary key through every record. The new index holds the
closed records only, in the purge's order (closure time, INS).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CLOSED = sa.text("status = 'closed'")


def upgrade() -> None:
    op.drop_index("ix_record_closed_at", table_name="record")
    op.create_index(
        "ix_record_closed_at_ins",
        "record",
        ["closed_at", "ins"],
        postgresql_where=_CLOSED,
        sqlite_where=_CLOSED,
    )


def downgrade() -> None:
    op.drop_index("ix_record_closed_at_ins", table_name="record")
    op.create_index("ix_record_closed_at", "record", ["closed_at"])
