"""A person's identity traits and age (RULES R1, R3)."""

from __future__ import annotations

from datetime import date

import pytest

from dmp.domain.errors import InvalidInput
from dmp.domain.people import (
    Identity,
    age_on,
    is_minor,
    parse_birth_date,
    parse_name,
    parse_regime,
)
from tests.personas import ALICE

TODAY = date(2018, 11, 6)


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("Martin", "Martin"),
        ("  Alice   Marie ", "Alice Marie"),
        ("Le\tGoff", "Le Goff"),
        ("N’Diaye-Lefèvre", "N’Diaye-Lefèvre"),
        ("Zoé", "Zoé"),
        ("Marie, Anne", "Marie, Anne"),
        ("x" * 100, "x" * 100),
    ],
)
def test_r1_a_name_is_kept_with_its_spaces_collapsed(written: str, name: str) -> None:
    assert parse_name(written, "family_name") == name


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "NAME_EMPTY"),
        ("   ", "NAME_EMPTY"),
        ("x" * 101, "NAME_LENGTH"),
        ("Mar\x00tin", "NAME_CHARACTERS"),
        ("Mar\x1btin", "NAME_CHARACTERS"),
        ("Mar\u200btin", "NAME_CHARACTERS"),  # zero-width space, invisible in a listing
        (None, "NAME"),
        (42, "NAME"),
    ],
)
def test_r1_a_bad_name_is_refused_naming_the_field(value: object, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_name(value, "given_names")
    assert (err.value.code, err.value.field) == (code, "given_names")


@pytest.mark.parametrize(
    ("value", "born"),
    [
        ("1985-03-14", date(1985, 3, 14)),
        (" 1985-03-14 ", date(1985, 3, 14)),
        ("2018-11-06", TODAY),  # born today
        ("1880-01-01", date(1880, 1, 1)),
        ("2000-02-29", date(2000, 2, 29)),
        (date(1985, 3, 14), date(1985, 3, 14)),
    ],
)
def test_r1_a_birth_date_is_yyyy_mm_dd(value: object, born: date) -> None:
    assert parse_birth_date(value, TODAY) == born


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("14/03/1985", "DATE"),
        ("1985-3-14", "DATE"),
        ("19850314", "DATE"),  # ISO basic format, not the file's format
        ("1985-W11-4", "DATE"),  # ISO week date: ten characters, still not YYYY-MM-DD
        ("1985-073", "DATE"),  # ISO ordinal date
        ("1985-02-30", "DATE"),
        ("2019-02-29", "DATE"),
        ("1985-03-14T00:00", "DATE"),
        ("", "DATE"),
        (None, "DATE"),
        (19850314, "DATE"),
        ("2018-11-07", "DATE_FUTURE"),
        ("1879-12-31", "DATE_RANGE"),
    ],
)
def test_r1_a_bad_birth_date_is_refused_naming_the_field(value: object, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_birth_date(value, TODAY)
    assert (err.value.code, err.value.field) == (code, "birth_date")


@pytest.mark.parametrize("value", ["01", "RG", "MSA", "regime_general", "x" * 32])
def test_a_regime_code_is_accepted(value: str) -> None:
    assert parse_regime(value) == value


@pytest.mark.parametrize("value", ["", " ", "x" * 33, "régime", "01 02", None])
def test_a_bad_regime_code_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_regime(value)
    assert (err.value.code, err.value.field) == ("REGIME", "regime")


@pytest.mark.parametrize(
    ("born", "day", "age", "minor"),
    [
        (date(2000, 6, 30), date(2018, 6, 29), 17, True),
        (date(2000, 6, 30), date(2018, 6, 30), 18, False),  # of age on the 18th birthday
        (date(2000, 6, 30), date(2018, 7, 1), 18, False),
        (date(2000, 2, 29), date(2018, 2, 28), 17, True),  # born on 29 February
        (date(2000, 2, 29), date(2018, 3, 1), 18, False),
        (date(2018, 11, 6), date(2018, 11, 6), 0, True),
    ],
)
def test_r3_age_and_minority(born: date, day: date, age: int, minor: bool) -> None:
    assert age_on(born, day) == age
    assert is_minor(born, day) is minor


def test_r1_an_identity_contradicting_its_ins_cannot_be_built() -> None:
    with pytest.raises(InvalidInput) as err:
        Identity(ALICE.ins, "Martin", "Alice", ALICE.birth_date, "M")
    assert err.value.code == "SEX_MISMATCH"
