"""Openings statistics: what a query asks and how rollup rows become groups.

Counts come from rollups (per local day × channel × department, and per local day ×
channel × opener) kept up to date with each opening and closure; this module only
turns their rows into the report, so a query costs the same at any number of records.
Days are local dates in Europe/Paris.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from dmp.domain.errors import InvalidInput
from dmp.domain.geography import departments, regions
from dmp.domain.records import CHANNEL_LABELS, Channel
from dmp.domain.time import iso_week

ONLINE_OPENER = "online"  # the opener key of records the holder opened online
TARGETS = (10_000_000, 40_000_000)  # national targets shown on the dashboard
MAX_FILLED_DAYS = 3660  # a day or week series is zero-filled over at most ~10 years


class GroupBy(StrEnum):
    CHANNEL = "channel"
    REGION = "region"
    DEPARTMENT = "department"
    OPENER = "opener"
    WEEK = "week"
    DAY = "day"

    @property
    def dimension(self) -> str:
        """The rollup column the store groups by for this grouping."""
        return {
            GroupBy.CHANNEL: "channel",
            GroupBy.REGION: "department",
            GroupBy.DEPARTMENT: "department",
            GroupBy.OPENER: "opener",
            GroupBy.WEEK: "day",
            GroupBy.DAY: "day",
        }[self]


@dataclass(frozen=True, slots=True)
class OpeningsQuery:
    start: date | None  # None: from the first record ever
    end: date
    by: GroupBy
    channel: Channel | None = None


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class OpeningsReport:
    query: OpeningsQuery
    total: int
    groups: tuple[Group, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "from": self.query.start.isoformat() if self.query.start else None,
            "to": self.query.end.isoformat(),
            "by": self.query.by.value,
            "channel": self.query.channel.value if self.query.channel else None,
            "total": self.total,
            "groups": [{"key": g.key, "label": g.label, "count": g.count} for g in self.groups],
        }


def make_openings_query(
    start: date | None, end: date, by: str, channel: str | None = None, cumulative: bool = False
) -> OpeningsQuery:
    """Validate a query; `cumulative` counts from the first record ever up to `end`."""
    try:
        group_by = GroupBy(by)
    except ValueError:
        allowed = "|".join(g.value for g in GroupBy)
        raise InvalidInput("STATS_BY", f"must be one of {allowed}, got {by!r}", "by") from None
    if cumulative:
        start = None
    if start is not None and start > end:
        raise InvalidInput(
            "STATS_PERIOD", f"from ({start.isoformat()}) is after to ({end.isoformat()})", "from"
        )
    chosen = None
    if channel:
        try:
            chosen = Channel(channel)
        except ValueError:
            allowed = ", ".join(c.value for c in Channel)
            raise InvalidInput(
                "CHANNEL", f"must be one of {allowed}, got {channel!r}", "channel"
            ) from None
    return OpeningsQuery(start, end, group_by, chosen)


def build_report(query: OpeningsQuery, rows: Iterable[tuple[object, str, int]]) -> OpeningsReport:
    """Turn rollup rows (dimension value, channel, count) into the report's groups."""
    counts: dict[str, int] = {}
    labels: dict[str, str] = {}
    for value, channel, count in rows:
        key, label = _key_and_label(query.by, value, channel)
        counts[key] = counts.get(key, 0) + int(count)
        labels.setdefault(key, label)
    if query.by in (GroupBy.DAY, GroupBy.WEEK) and counts:
        _fill_time_gaps(query, counts, labels)
        ordered = sorted(counts.items())
    else:  # most openings first, then by key
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    groups = tuple([Group(k, labels[k], n) for k, n in ordered])
    return OpeningsReport(query, sum(counts.values()), groups)


_CHANNEL_LABELS = {c.value: label for c, label in CHANNEL_LABELS.items()}


def _key_and_label(by: GroupBy, value: object, channel: str) -> tuple[str, str]:
    if by is GroupBy.CHANNEL:
        return str(value), CHANNEL_LABELS[Channel(str(value))]
    if by is GroupBy.DEPARTMENT:
        return str(value), departments()[str(value)].name
    if by is GroupBy.REGION:
        region = departments()[str(value)].region_code
        return region, regions()[region]
    if by is GroupBy.OPENER:  # tens of thousands of groups: no enum built per row
        opener = str(value) or ONLINE_OPENER
        label = _CHANNEL_LABELS[channel]
        return opener, label if opener == ONLINE_OPENER else f"{label} {opener}"
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    if by is GroupBy.WEEK:
        week = iso_week(day)
        return week, f"Semaine {week[-2:]} de {day.isocalendar()[0]}"
    return day.isoformat(), day.strftime("%d/%m/%Y")


def _fill_time_gaps(query: OpeningsQuery, counts: dict[str, int], labels: dict[str, str]) -> None:
    """Weeks or days without openings, between the first and last with some, count 0."""
    days = sorted(
        date.fromisoformat(k) if query.by is GroupBy.DAY else _week_monday(k) for k in counts
    )
    first, last = days[0], days[-1]
    if (last - first).days > MAX_FILLED_DAYS:
        return
    step = timedelta(days=1 if query.by is GroupBy.DAY else 7)
    day = first
    while day <= last:
        key, label = _key_and_label(query.by, day, "")
        counts.setdefault(key, 0)
        labels.setdefault(key, label)
        day += step


def _week_monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


@dataclass(frozen=True, slots=True)
class PharmacyFee:
    finess: str
    openings: int
    amount: Decimal


def pharmacy_fees(rows: Iterable[tuple[str, int]], unit_fee: Decimal) -> list[PharmacyFee]:
    """RULES R2: a pharmacy is paid a fixed fee (1 € in 2018) per record it opens."""
    fees = [
        PharmacyFee(finess, int(n), (unit_fee * int(n)).quantize(Decimal("0.01")))
        for finess, n in rows
    ]
    return sorted(fees, key=lambda f: f.finess)


def parse_month(value: str, field: str = "month") -> tuple[date, date]:
    """'YYYY-MM' -> (first day, last day) of that month."""
    try:
        first = date.fromisoformat(value.strip() + "-01")
    except (ValueError, AttributeError):
        raise InvalidInput("MONTH", f"expected YYYY-MM, got {value!r}", field) from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)
