"""French number, percentage and date formats of the pages."""

from __future__ import annotations

from datetime import date

import pytest

from dmp.web.rendering import fr_date, fr_int, fr_percent


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (999, "999"), (3_000_000, "3 000 000"), (-1200, "-1 200")]
)
def test_thousands_are_separated_by_a_narrow_space(value: int, shown: str) -> None:
    assert fr_int(value) == shown.replace(" ", "\u202f")


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0, "0,0 %"), (0.3, "30,0 %"), (0.0004, "< 0,1 %"), (0.001, "0,1 %"), (12.5, "1 250,0 %")],
)
def test_percentages_use_a_comma_and_never_round_a_start_to_zero(share: float, shown: str) -> None:
    assert fr_percent(share) == shown.replace(" ", "\u202f")


def test_dates_read_day_month_year() -> None:
    assert fr_date(date(2018, 11, 6)) == "06/11/2018"
