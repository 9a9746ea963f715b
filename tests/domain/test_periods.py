"""Rollup spans: their signed sum counts each day of the period once, and nothing else."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dmp.domain.periods import Grain, Span, month_end, split_period

EARLIEST = date(2018, 1, 1)  # what "from the beginning" expands to in these tests
days = st.dates(min_value=date(2018, 6, 1), max_value=date(2022, 12, 31))


def _counted(spans: list[Span]) -> Counter[date]:
    counts: Counter[date] = Counter()
    for span in spans:
        first = span.first or EARLIEST
        last = month_end(span.last) if span.grain is Grain.MONTH else span.last
        if span.grain is Grain.MONTH:
            assert first.day == 1, span
            assert span.last.day == 1, span
        day = first
        while day <= last:
            counts[day] += span.sign
            day += timedelta(days=1)
    return +counts  # drops days whose signed count is zero


def _period(start: date, end: date) -> Counter[date]:
    return Counter(start + timedelta(days=i) for i in range((end - start).days + 1))


@given(days, days)
def test_spans_count_each_day_of_the_period_once(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    spans = split_period(start, end)
    assert _counted(spans) == _period(start, end)
    assert all(s.sign == 1 or s.grain is Grain.DAY for s in spans)  # only days are subtracted


@given(days)
def test_from_the_beginning(end: date) -> None:
    assert _counted(split_period(None, end)) == _period(EARLIEST, end)


@given(days)
def test_few_daily_rows_whatever_the_length(end: date) -> None:
    """At most about a month of days is read, however long the period."""
    for start in (None, date(2018, 6, 7), end - timedelta(days=800)):
        daily = sum(
            (s.last - (s.first or EARLIEST)).days + 1
            for s in split_period(start, end)
            if s.grain is Grain.DAY
        )
        assert daily <= 31


def test_examples() -> None:
    # the launch weeks: two months, each minus the days the period leaves out
    assert split_period(date(2018, 11, 6), date(2018, 12, 30)) == [
        Span(Grain.MONTH, date(2018, 11, 1), date(2018, 11, 1)),
        Span(Grain.DAY, date(2018, 11, 1), date(2018, 11, 5), -1),
        Span(Grain.MONTH, date(2018, 12, 1), date(2018, 12, 1)),
        Span(Grain.DAY, date(2018, 12, 31), date(2018, 12, 31), -1),
    ]
    assert split_period(date(2019, 2, 1), date(2019, 2, 28)) == [
        Span(Grain.MONTH, date(2019, 2, 1), date(2019, 2, 1))
    ]
    assert split_period(date(2019, 3, 3), date(2019, 3, 9)) == [
        Span(Grain.DAY, date(2019, 3, 3), date(2019, 3, 9))
    ]
    assert split_period(None, date(2019, 3, 31)) == [Span(Grain.MONTH, None, date(2019, 3, 1))]
    assert split_period(date(2019, 3, 2), date(2019, 3, 1)) == []
