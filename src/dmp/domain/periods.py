"""Splitting a period of days into rollup spans: whole months, and days at the edges.

The openings rollups are kept at two grains, per day and per month (storage/rollups.py).
A period is answered from the monthly rows of its whole months plus the daily rows of
its partial months, so a query reads a number of rows bounded by the period's months
and a few dozen days — never by the number of records. A partial month that covers
most of its month is cheaper as the whole month *minus* the days it leaves out: the
span then carries the sign -1. Days are local dates (Europe/Paris), months are named
by their first day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Grain(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Span:
    """Rollup rows of `grain` from `first` to `last` (both included), counted with
    `sign`. A month span names months by their first day; `first` None: from the
    earliest row kept."""

    grain: Grain
    first: date | None
    last: date
    sign: int = 1


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _previous_month(month: date) -> date:
    return month_start(month - timedelta(days=1))


def _next_month(month: date) -> date:
    return month_end(month) + timedelta(days=1)


def split_period(start: date | None, end: date) -> list[Span]:
    """The spans whose signed sum counts exactly the days of [start, end] (start None:
    from the beginning). `start` after `end` gives no span."""
    if start is not None and start > end:
        return []
    last_month = month_start(end)
    if start is not None and month_start(start) == last_month:
        return _partial_month(start, end)
    spans: list[Span] = []
    first_whole: date | None = None  # None: every month before the last one is whole
    if start is not None:
        first_whole = month_start(start)
        if start.day != 1:
            spans += _partial_month(start, month_end(start))
            first_whole = _next_month(first_whole)
    if end == month_end(end):
        last_whole = last_month
    else:
        last_whole = _previous_month(last_month)
        spans += _partial_month(last_month, end)
    if first_whole is None or first_whole <= last_whole:
        spans.insert(0, Span(Grain.MONTH, first_whole, last_whole))
    return spans


def _partial_month(first: date, last: date) -> list[Span]:
    """Days [first, last] of one month: as days, or as the month minus the days left
    out when those are fewer."""
    covered = (last - first).days + 1
    month_days = month_end(first).day
    if month_days - covered >= covered:
        return [Span(Grain.DAY, first, last)]
    spans = [Span(Grain.MONTH, month_start(first), month_start(first))]
    if first.day > 1:
        spans.append(Span(Grain.DAY, month_start(first), first - timedelta(days=1), -1))
    if last < month_end(last):
        spans.append(Span(Grain.DAY, last + timedelta(days=1), month_end(last), -1))
    return spans
