"""monthly and per-day openings rollups

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 03:40:00

The new rollups are filled from the daily ones, so statistics stay exact across the
upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "openings_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("opened", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "channel", "department", name=op.f("pk_openings_monthly")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "openings_by_opener_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("opener", sa.String(length=16), nullable=False),
        sa.Column("opened", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "channel", "opener", name=op.f("pk_openings_by_opener_monthly")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "openings_by_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("opened", sa.BigInteger(), nullable=False),
        sa.Column("closed", sa.BigInteger(), nullable=False),
        sa.Column("reopened", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", name=op.f("pk_openings_by_day")),
        sqlite_with_rowid=False,
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    month = "CAST(date_trunc('month', day) AS DATE)" if postgres else "date(day, 'start of month')"
    op.execute(
        "INSERT INTO openings_by_day (day, channel, opened, closed, reopened) "
        "SELECT day, channel, SUM(opened), SUM(closed), SUM(reopened) "
        "FROM openings_daily GROUP BY day, channel"
    )
    op.execute(
        "INSERT INTO openings_monthly (month, channel, department, opened) "
        f"SELECT {month}, channel, department, SUM(opened) FROM openings_daily "
        f"GROUP BY {month}, channel, department"
    )
    op.execute(
        "INSERT INTO openings_by_opener_monthly (month, channel, opener, opened) "
        f"SELECT {month}, channel, opener, SUM(opened) FROM openings_by_opener "
        f"GROUP BY {month}, channel, opener"
    )


def downgrade() -> None:
    op.drop_table("openings_by_day")
    op.drop_table("openings_by_opener_monthly")
    op.drop_table("openings_monthly")
