"""How long a closed record is kept (RULES R4, R16; CSP L1111-18).

A closed record and its traces are kept ten years after closure, then destroyed.
Within that period the record can be reopened with the holder's consent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dmp.domain.errors import InvalidInput
from dmp.domain.time import local_date

RETENTION_YEARS = 10


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year + years, day=28)


def retention_ends(closed_at: datetime) -> date:
    """The first day on which a record closed at `closed_at` may be purged.

    Days are local (Europe/Paris): a record closed at 00:30 in Paris on 7 November
    was closed on the 7th, even though it was still the 6th in UTC. A closure on
    29 February may be purged from 28 February ten years later (the period expires
    on the last day of the month, as in CPC art. 641).
    """
    return _add_years(local_date(closed_at), RETENTION_YEARS)


def is_purgeable(closed_at: datetime, as_of: date) -> bool:
    """CSP L1111-18: purge once ten full years have passed since closure."""
    return as_of >= retention_ends(closed_at)


def purge_candidates_closed_before(as_of: date) -> date:
    """A coarse bound for the store's query: every purgeable record closed before it.

    The store selects with it; `is_purgeable` decides each candidate.
    """
    return _add_years(as_of, -RETENTION_YEARS) + timedelta(days=2)


def check_purge_date(as_of: date, today: date) -> None:
    """A purge runs as of today or an earlier day: a date in the future would destroy
    records before their ten years are over (CSP L1111-18)."""
    if as_of > today:
        raise InvalidInput(
            "PURGE_DATE_FUTURE",
            f"{as_of.isoformat()} is after today ({today.isoformat()}): records would be "
            "destroyed before the end of their retention",
            "as_of",
        )
