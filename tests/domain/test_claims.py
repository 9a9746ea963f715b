"""Claim lines (issue 5; RULES R5): the line model, each category's nomenclature, errors
naming the field, the 24-month window on both sides of its boundary, conflicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from dmp.domain.claims import (
    NOMENCLATURES,
    ClaimCategory,
    check_care_date,
    differing_field,
    ean13_key,
    in_window,
    parse_claim_line,
    window_start,
)
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import make_finess, make_rpps
from tests.personas import ALICE, BOB

RPPS = make_rpps("1000000001")
FINESS = make_finess("75000001")


def row(**changes: str) -> dict[str, str]:
    values = {
        "claim_id": "RC-0000000001",
        "ins": ALICE.ins,
        "care_date": "2026-03-02",
        "category": "pharmacy",
        "code": "3400933516390",
        "label": "PARACETAMOL 500 mg, comprimé",
        "quantity": "2",
        "performer_rpps": RPPS,
        "performer_name": "Dupont Jeanne",
        "performer_profession": "21",
        "prescriber_rpps": "",
        "facility_finess": FINESS,
    }
    values.update(changes)
    return values


def test_r5_a_valid_line_is_read_with_absent_options_as_none() -> None:
    line = parse_claim_line(row())
    assert (line.category, line.quantity, line.care_date) == (
        ClaimCategory.PHARMACY,
        2,
        date(2026, 3, 2),
    )
    assert line.prescriber_rpps is None
    assert line.nomenclature.system == "urn:oid:1.2.250.1.213.2.3.2"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"claim_id": ""}, "claim_id", "CLAIM_ID"),
        ({"claim_id": "a b"}, "claim_id", "CLAIM_ID"),
        ({"ins": BOB.ins[:13] + "00"}, "ins", "INS_KEY"),
        ({"ins": ""}, "ins", "REQUIRED"),
        ({"care_date": "2026-02-30"}, "care_date", "DATE"),
        ({"care_date": "02/03/2026"}, "care_date", "DATE"),
        ({"category": "veterinary"}, "category", "CATEGORY"),
        ({"code": "DEQP003"}, "code", "CODE_NOMENCLATURE"),
        ({"code": "3400933516391"}, "code", "CODE_NOMENCLATURE"),  # EAN-13 key wrong
        ({"category": "biology", "code": "110"}, "code", "CODE_NOMENCLATURE"),
        ({"category": "technical_act", "code": "DEQP03"}, "code", "CODE_NOMENCLATURE"),
        ({"category": "hospital_stay", "code": "05X092"}, "code", "CODE_NOMENCLATURE"),
        ({"category": "optical", "code": "22103"}, "code", "CODE_NOMENCLATURE"),
        ({"label": ""}, "label", "REQUIRED"),
        ({"label": "x" * 201}, "label", "TOO_LONG"),
        ({"label": "a\tb"}, "label", "CONTROL_CHARACTER"),
        ({"quantity": "0"}, "quantity", "QUANTITY"),
        ({"quantity": "1.5"}, "quantity", "QUANTITY"),
        ({"quantity": "100000"}, "quantity", "QUANTITY"),
        (
            {"performer_rpps": RPPS[:10] + str((int(RPPS[10]) + 1) % 10)},
            "performer_rpps",
            "RPPS_KEY",
        ),
        ({"prescriber_rpps": "123"}, "prescriber_rpps", "RPPS_FORMAT"),
        ({"performer_profession": "médecin"}, "performer_profession", "PROFESSION"),
        (
            {"facility_finess": FINESS[:8] + str((int(FINESS[8]) + 1) % 10)},
            "facility_finess",
            "FINESS_KEY",
        ),
    ],
)
def test_r5_a_bad_field_is_named_with_its_reason(
    changes: dict[str, str], field: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_claim_line(row(**changes))
    assert (err.value.field, err.value.code) == (field, code)
    assert err.value.message


def test_every_category_has_a_nomenclature_that_accepts_its_examples() -> None:
    examples = {
        ClaimCategory.CONSULTATION: "G",
        ClaimCategory.TECHNICAL_ACT: "DEQP003",
        ClaimCategory.BIOLOGY: "1104",
        ClaimCategory.PHARMACY: "3400933516390",
        ClaimCategory.HOSPITAL_STAY: "05M092",
        ClaimCategory.PARAMEDICAL: "AMI",
        ClaimCategory.DENTAL: "HBJD001",
        ClaimCategory.OPTICAL: "2210546",
        ClaimCategory.MEDICAL_DEVICE: "1107327",
    }
    assert set(NOMENCLATURES) == set(ClaimCategory) == set(examples)
    for category, code in examples.items():
        assert NOMENCLATURES[category].accepts(code), category


def test_cip13_keys_are_ean13() -> None:
    assert ean13_key("340093351639") == "0"


@pytest.mark.parametrize(
    ("today", "first_day"),
    [
        (date(2026, 3, 15), date(2024, 3, 15)),
        (date(2026, 1, 1), date(2024, 1, 1)),
        (date(2028, 2, 29), date(2026, 2, 28)),  # no 29 February in 2026
        (date(2026, 5, 31), date(2024, 5, 31)),
        (date(2026, 4, 30), date(2024, 4, 30)),
    ],
)
def test_r5_the_window_holds_24_months_both_ends_included(today: date, first_day: date) -> None:
    assert window_start(today) == first_day
    assert in_window(first_day, today)
    assert not in_window(date.fromordinal(first_day.toordinal() - 1), today)
    assert in_window(today, today)
    assert not in_window(date.fromordinal(today.toordinal() + 1), today)


def test_r5_a_care_date_after_today_is_an_error_and_an_old_one_is_not_kept() -> None:
    today = date(2026, 3, 15)
    assert check_care_date(date(2024, 3, 15), today) is True
    assert check_care_date(date(2024, 3, 14), today) is False
    with pytest.raises(InvalidInput) as err:
        check_care_date(date(2026, 3, 16), today)
    assert (err.value.field, err.value.code) == ("care_date", "CARE_DATE_FUTURE")


def test_a_resent_claim_is_a_duplicate_or_a_conflict_naming_the_first_difference() -> None:
    stored = parse_claim_line(row())
    assert differing_field(stored, parse_claim_line(row())) is None
    assert differing_field(stored, replace(stored, quantity=3)) == "quantity"
    assert differing_field(stored, replace(stored, ins=BOB.ins, label="x")) == "ins"
