"""How long a closed record is kept: ten years after closure (RULES R4, R16; CSP L1111-18)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.domain.retention import (
    RETENTION_YEARS,
    is_purgeable,
    purge_candidates_closed_before,
    retention_ends,
)


def test_r4_records_are_kept_ten_years() -> None:
    assert RETENTION_YEARS == 10


@pytest.mark.parametrize(
    ("closed_at", "first_purge_day"),
    [
        (datetime(2018, 11, 7, 10, 0, tzinfo=UTC), date(2028, 11, 7)),
        (datetime(2020, 2, 29, 12, 0, tzinfo=UTC), date(2030, 2, 28)),  # no 29 February in 2030
        (datetime(2016, 2, 29, 12, 0, tzinfo=UTC), date(2026, 2, 28)),
        (datetime(2020, 2, 28, 12, 0, tzinfo=UTC), date(2030, 2, 28)),
        (datetime(2018, 2, 28, 12, 0, tzinfo=UTC), date(2028, 2, 28)),  # 2028 is leap: no shift
        # Local days (Europe/Paris): 23:30 UTC is already the next day in Paris.
        (datetime(2018, 11, 6, 23, 30, tzinfo=UTC), date(2028, 11, 7)),
        (datetime(2018, 6, 30, 22, 30, tzinfo=UTC), date(2028, 7, 1)),  # summer time, UTC+2
        (datetime(2018, 12, 31, 23, 0, tzinfo=UTC), date(2029, 1, 1)),
    ],
)
def test_r4_retention_ends_ten_years_after_the_local_day_of_closure(
    closed_at: datetime, first_purge_day: date
) -> None:
    assert retention_ends(closed_at) == first_purge_day
    assert not is_purgeable(closed_at, first_purge_day - timedelta(days=1))
    assert is_purgeable(closed_at, first_purge_day)
    assert is_purgeable(closed_at, first_purge_day + timedelta(days=1))


# Hypothesis wants naive bounds and adds the time zone itself.
NAIVE_FIRST, NAIVE_LAST = datetime(2005, 1, 1), datetime(2060, 12, 31)  # noqa: DTZ001
CLOSURES = st.datetimes(NAIVE_FIRST, NAIVE_LAST, timezones=st.just(UTC))
AS_OF = st.dates(date(2015, 1, 1), date(2075, 12, 31))


@given(CLOSURES, AS_OF)
def test_r4_the_store_query_bound_never_misses_a_purgeable_record(
    closed_at: datetime, as_of: date
) -> None:
    """The store selects records closed before the bound (midnight UTC); every record the
    rule says is purgeable must be among them, or a purge would silently skip it."""
    bound = purge_candidates_closed_before(as_of)
    if is_purgeable(closed_at, as_of):
        assert closed_at < datetime(bound.year, bound.month, bound.day, tzinfo=UTC)


@given(CLOSURES)
def test_r4_a_record_is_never_purgeable_before_ten_full_years(closed_at: datetime) -> None:
    """Ten years are 3652 or 3653 days (two or three 29 Februaries, 2005–2060)."""
    closed_day = closed_at.astimezone(ZoneInfo("Europe/Paris")).date()
    ends = retention_ends(closed_at)
    assert (ends - closed_day).days in (3652, 3653)
    assert not is_purgeable(closed_at, ends - timedelta(days=1))
    assert is_purgeable(closed_at, ends)
