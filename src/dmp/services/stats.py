"""Openings statistics, answered from the rollups (never a scan of the records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dmp.domain.records import Channel
from dmp.domain.stats import (
    OpeningsQuery,
    OpeningsReport,
    PharmacyFee,
    build_report,
    parse_month,
    pharmacy_fees,
)
from dmp.storage import rollups
from dmp.storage.db import Database


def openings(db: Database, query: OpeningsQuery) -> OpeningsReport:
    """Openings whose local date falls in the query's period, grouped as asked."""
    channel = query.channel.value if query.channel else None
    with db.read() as conn:
        rows = rollups.openings_grouped(conn, query.by.dimension, query.start, query.end, channel)
    return build_report(query, rows)


@dataclass(frozen=True, slots=True)
class Totals:
    opened: int
    closed: int
    reopened: int

    @property
    def active(self) -> int:
        """Records open at the end of the period."""
        return self.opened - self.closed + self.reopened


def totals(db: Database, end: date) -> Totals:
    with db.read() as conn:
        return Totals(*rollups.lifecycle_totals(conn, end))


def monthly_pharmacy_fees(db: Database, month: str, unit_fee: Decimal) -> list[PharmacyFee]:
    """RULES R2: per pharmacy FINESS, records opened in `month` and the amount due."""
    first, last = parse_month(month)
    with db.read() as conn:
        rows = rollups.pharmacy_openings(conn, first, last, Channel.PHARMACY.value)
    return pharmacy_fees(rows, unit_fee)
