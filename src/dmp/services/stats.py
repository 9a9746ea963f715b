"""Openings statistics, answered from the rollups (never a scan of the records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dmp.domain.records import Channel
from dmp.domain.stats import (
    TARGETS,
    GroupBy,
    OpeningsQuery,
    OpeningsReport,
    PharmacyFee,
    build_report,
    make_openings_query,
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


def first_opening_day(db: Database, end: date) -> date | None:
    """The local day of the first opening up to `end`, or None when there is none yet."""
    with db.read() as conn:
        rows = rollups.openings_grouped(conn, "day", None, end, None)
    days = [v if isinstance(v, date) else date.fromisoformat(str(v)) for v, _, _ in rows]
    return min(days, default=None)


@dataclass(frozen=True, slots=True)
class WeekProgress:
    week: str  # ISO 8601 week, e.g. '2018-W45'
    label: str
    monday: date
    opened: int  # records opened that week
    cumulative: int  # records opened from the first ever to the end of that week


@dataclass(frozen=True, slots=True)
class TargetProgress:
    target: int
    reached: int

    @property
    def share(self) -> float:
        """Fraction of the target reached (may exceed 1)."""
        return self.reached / self.target


@dataclass(frozen=True, slots=True)
class Progress:
    end: date
    opened: int  # records opened from the first ever up to `end`
    weeks: tuple[WeekProgress, ...]
    targets: tuple[TargetProgress, ...]


def progress(db: Database, end: date) -> Progress:
    """Records opened since the first ever, week by week up to `end`, against the
    national TARGETS. The targets count records opened, all channels, so closures
    do not lower the curve (`totals` gives the records still active)."""
    report = openings(db, make_openings_query(None, end, GroupBy.WEEK.value))
    weeks: list[WeekProgress] = []
    running = 0
    for g in report.groups:
        running += g.count
        year, number = g.key.split("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
        weeks.append(WeekProgress(g.key, g.label, monday, g.count, running))
    targets = tuple(TargetProgress(t, report.total) for t in TARGETS)
    return Progress(end, report.total, tuple(weeks), targets)
