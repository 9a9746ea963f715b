"""Openings statistics: rollup rows become the report's groups (issue 2: `dmp stats`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dmp.domain.errors import InvalidInput
from dmp.domain.records import Channel
from dmp.domain.stats import (
    MAX_FILLED_DAYS,
    Group,
    GroupBy,
    OpeningsQuery,
    PharmacyFee,
    build_report,
    make_openings_query,
    parse_month,
    pharmacy_fees,
)
from tests.personas import CLINIC, DR_BOB_RPPS, INSURER_OFFICE, PHARMACY

START, END = date(2018, 11, 1), date(2018, 12, 31)


def query(by: GroupBy, start: date | None = START, end: date = END) -> OpeningsQuery:
    return OpeningsQuery(start, end, by)


def groups(by: GroupBy, rows: list[tuple[object, str, int]]) -> list[tuple[str, str, int]]:
    return [(g.key, g.label, g.count) for g in build_report(query(by), rows).groups]


# ----------------------------------------------------------------------------- the query


def test_a_query_is_validated_into_its_parts() -> None:
    q = make_openings_query(START, END, "region", "pharmacy")
    assert q == OpeningsQuery(START, END, GroupBy.REGION, Channel.PHARMACY)


def test_cumulative_counts_from_the_first_record_ever() -> None:
    assert make_openings_query(START, END, "week", cumulative=True).start is None


def test_from_equal_to_to_is_one_day() -> None:
    assert make_openings_query(END, END, "day").start == END


@pytest.mark.parametrize(
    ("start", "by", "channel", "code", "field"),
    [
        (START, "month", None, "STATS_BY", "by"),
        (START, "", None, "STATS_BY", "by"),
        (START, "Channel", None, "STATS_BY", "by"),
        (date(2019, 1, 1), "day", None, "STATS_PERIOD", "from"),
        (START, "day", "shop", "CHANNEL", "channel"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(
    start: date, by: str, channel: str | None, code: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        make_openings_query(start, END, by, channel)
    assert (err.value.code, err.value.field) == (code, field)


def test_every_grouping_reads_the_rollup_dimension_it_needs() -> None:
    assert {g: g.dimension for g in GroupBy} == {
        GroupBy.CHANNEL: "channel",
        GroupBy.REGION: "department",
        GroupBy.DEPARTMENT: "department",
        GroupBy.OPENER: "opener",
        GroupBy.WEEK: "day",
        GroupBy.DAY: "day",
    }


# ---------------------------------------------------------------------------- the groups


def test_by_channel_keys_are_channel_codes_with_french_labels_largest_first() -> None:
    rows: list[tuple[object, str, int]] = [
        ("online", "online", 3),
        ("pharmacy", "pharmacy", 7),
        ("insurer", "insurer", 3),
        ("professional", "professional", 1),
        ("establishment", "establishment", 2),
    ]
    assert groups(GroupBy.CHANNEL, rows) == [
        ("pharmacy", "Pharmacie", 7),
        ("insurer", "Accueil Assurance Maladie", 3),  # ties by key
        ("online", "En ligne (titulaire)", 3),
        ("establishment", "Établissement de santé", 2),
        ("professional", "Professionnel de santé", 1),
    ]


def test_by_region_sums_the_departments_of_each_region() -> None:
    rows: list[tuple[object, str, int]] = [
        ("75", "pharmacy", 4),
        ("92", "online", 3),
        ("13", "pharmacy", 2),
        ("2A", "online", 1),
        ("2B", "pharmacy", 1),
        ("974", "insurer", 5),
    ]
    assert groups(GroupBy.REGION, rows) == [
        ("11", "Île-de-France", 7),
        ("04", "La Réunion", 5),
        ("93", "Provence-Alpes-Côte d'Azur", 2),
        ("94", "Corse", 2),
    ]


def test_by_department_keys_are_insee_codes_labelled_with_their_names() -> None:
    rows: list[tuple[object, str, int]] = [
        ("75", "pharmacy", 4),
        ("75", "online", 1),  # one row per channel: summed
        ("2A", "online", 1),
        ("971", "insurer", 2),
    ]
    assert groups(GroupBy.DEPARTMENT, rows) == [
        ("75", "Paris", 5),
        ("971", "Guadeloupe", 2),
        ("2A", "Corse-du-Sud", 1),
    ]


def test_by_opener_keys_are_the_opener_identifiers_and_online_for_the_holder() -> None:
    rows: list[tuple[object, str, int]] = [
        (PHARMACY, "pharmacy", 5),
        (CLINIC, "establishment", 2),
        (DR_BOB_RPPS, "professional", 3),
        (INSURER_OFFICE, "insurer", 1),
        ("", "online", 4),
    ]
    assert groups(GroupBy.OPENER, rows) == [
        (PHARMACY, f"Pharmacie {PHARMACY}", 5),
        ("online", "En ligne (titulaire)", 4),
        (DR_BOB_RPPS, f"Professionnel de santé {DR_BOB_RPPS}", 3),
        (CLINIC, f"Établissement de santé {CLINIC}", 2),
        (INSURER_OFFICE, f"Accueil Assurance Maladie {INSURER_OFFICE}", 1),
    ]


def test_by_week_keys_are_iso_weeks_in_order_with_empty_weeks_counted_zero() -> None:
    rows: list[tuple[object, str, int]] = [
        (date(2018, 11, 6), "pharmacy", 2),  # Tuesday of W45 (the national launch)
        (date(2018, 11, 11), "online", 1),  # Sunday: still W45
        (date(2018, 11, 12), "online", 4),  # Monday: W46
        (date(2018, 12, 3), "pharmacy", 1),  # W49; W47 and W48 had nothing
    ]
    assert groups(GroupBy.WEEK, rows) == [
        ("2018-W45", "Semaine 45 de 2018", 3),
        ("2018-W46", "Semaine 46 de 2018", 4),
        ("2018-W47", "Semaine 47 de 2018", 0),
        ("2018-W48", "Semaine 48 de 2018", 0),
        ("2018-W49", "Semaine 49 de 2018", 1),
    ]


def test_iso_weeks_belong_to_their_iso_year_across_new_year() -> None:
    rows: list[tuple[object, str, int]] = [
        (date(2018, 12, 30), "online", 1),  # Sunday of 2018-W52
        (date(2018, 12, 31), "online", 2),  # Monday: 2019-W01
        (date(2021, 1, 3), "online", 1),  # 2020-W53
    ]
    keys = [g.key for g in build_report(query(GroupBy.WEEK), rows).groups]
    assert keys[:2] == ["2018-W52", "2019-W01"]
    assert keys[-1] == "2020-W53"
    assert "2020-W52" in keys  # zero-filled
    labels = {g.key: g.label for g in build_report(query(GroupBy.WEEK), rows).groups}
    assert labels["2019-W01"] == "Semaine 01 de 2019"


def test_by_day_keys_are_iso_dates_in_order_with_empty_days_counted_zero() -> None:
    rows: list[tuple[object, str, int]] = [
        (date(2018, 11, 8), "online", 1),
        (date(2018, 11, 6), "pharmacy", 2),
        ("2018-11-06", "online", 1),  # a store may hand dates back as text
    ]
    assert groups(GroupBy.DAY, rows) == [
        ("2018-11-06", "06/11/2018", 3),
        ("2018-11-07", "07/11/2018", 0),
        ("2018-11-08", "08/11/2018", 1),
    ]


def test_a_day_series_longer_than_ten_years_is_not_zero_filled() -> None:
    first = date(2008, 1, 1)
    last = date.fromordinal(first.toordinal() + MAX_FILLED_DAYS + 1)
    rows: list[tuple[object, str, int]] = [(first, "online", 1), (last, "online", 1)]
    report = build_report(query(GroupBy.DAY, None, last), rows)
    assert [g.key for g in report.groups] == [first.isoformat(), last.isoformat()]


def test_a_period_without_openings_has_no_groups_and_a_zero_total() -> None:
    for by in GroupBy:
        report = build_report(query(by), [])
        assert (report.total, report.groups) == (0, ())


def test_the_total_is_the_sum_of_the_groups() -> None:
    rows: list[tuple[object, str, int]] = [("75", "pharmacy", 4), ("13", "online", 6)]
    report = build_report(query(GroupBy.DEPARTMENT), rows)
    assert report.total == 10 == sum(g.count for g in report.groups)
    assert report.groups[0] == Group("13", "Bouches-du-Rhône", 6)


def test_the_report_as_json_has_the_documented_shape() -> None:
    q = make_openings_query(START, END, "channel", "pharmacy")
    report = build_report(q, [("pharmacy", "pharmacy", 2)])
    assert report.as_dict() == {
        "from": "2018-11-01",
        "to": "2018-12-31",
        "by": "channel",
        "channel": "pharmacy",
        "total": 2,
        "groups": [{"key": "pharmacy", "label": "Pharmacie", "count": 2}],
    }
    cumulative = make_openings_query(None, END, "day", cumulative=True)
    assert build_report(cumulative, []).as_dict()["from"] is None


# -------------------------------------------------------------------------- pharmacy fees


def test_r2_each_pharmacy_is_paid_the_unit_fee_per_record_it_opened() -> None:
    other = "130000037"
    fees = pharmacy_fees([(PHARMACY, 3), (other, 1)], Decimal("1"))
    assert fees == [
        PharmacyFee(other, 1, Decimal("1.00")),
        PharmacyFee(PHARMACY, 3, Decimal("3.00")),
    ]
    assert [str(f.amount) for f in fees] == ["1.00", "3.00"]


@pytest.mark.parametrize(
    ("unit", "n", "amount"),
    [("1.00", 0, "0.00"), ("0.50", 3, "1.50"), ("1.5", 200_000, "300000.00"), ("0.333", 3, "1.00")],
)
def test_r2_the_fee_is_configurable_and_rounded_to_the_cent(unit: str, n: int, amount: str) -> None:
    (fee,) = pharmacy_fees([(PHARMACY, n)], Decimal(unit))
    assert str(fee.amount) == amount


@pytest.mark.parametrize(
    ("month", "first", "last"),
    [
        ("2018-11", date(2018, 11, 1), date(2018, 11, 30)),
        ("2018-12", date(2018, 12, 1), date(2018, 12, 31)),
        ("2020-02", date(2020, 2, 1), date(2020, 2, 29)),
        ("2019-02", date(2019, 2, 1), date(2019, 2, 28)),
        (" 2018-11 ", date(2018, 11, 1), date(2018, 11, 30)),
    ],
)
def test_a_month_is_yyyy_mm(month: str, first: date, last: date) -> None:
    assert parse_month(month) == (first, last)


@pytest.mark.parametrize(
    "value", ["", "2018", "2018-13", "2018-00", "2018/11", "11-2018", "2018-11-01", "2018-1", None]
)
def test_a_bad_month_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_month(value)  # type: ignore[arg-type]
    assert (err.value.code, err.value.field) == ("MONTH", "month")
