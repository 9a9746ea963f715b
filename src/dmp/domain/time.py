"""Local time as the statistics and the people see it (Europe/Paris)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def local_date(at: datetime) -> date:
    """The calendar date in metropolitan France of an aware instant."""
    return at.astimezone(PARIS).date()


def as_utc(at: datetime) -> datetime:
    """An aware instant normalised to UTC (naive values are read as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def iso_week(day: date) -> str:
    """ISO 8601 week label, e.g. '2018-W49'."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
