"""Departments and regions from INSEE's reference data (issue 2: region derived from the
department of residence)."""

from __future__ import annotations

import pytest

from dmp.domain.errors import InvalidInput
from dmp.domain.geography import departments, parse_department, region_of, regions

METROPOLITAN_REGIONS = {
    "11",
    "24",
    "27",
    "28",
    "32",
    "44",
    "52",
    "53",
    "75",
    "76",
    "84",
    "93",
    "94",
}
OVERSEAS_REGIONS = {"01", "02", "03", "04", "06"}


def test_there_are_101_departments_in_18_regions() -> None:
    assert len(departments()) == 101
    assert set(regions()) == METROPOLITAN_REGIONS | OVERSEAS_REGIONS


def test_every_department_belongs_to_a_known_region_and_has_a_name() -> None:
    for code, department in departments().items():
        assert department.code == code
        assert department.name
        assert regions()[department.region_code] == department.region_name


@pytest.mark.parametrize(
    ("written", "code", "region", "region_name"),
    [
        ("75", "75", "11", "Île-de-France"),
        ("13", "13", "93", "Provence-Alpes-Côte d'Azur"),
        ("1", "01", "84", "Auvergne-Rhône-Alpes"),  # a lost leading zero is restored
        ("01", "01", "84", "Auvergne-Rhône-Alpes"),
        ("2A", "2A", "94", "Corse"),
        ("2a", "2A", "94", "Corse"),
        (" 2B ", "2B", "94", "Corse"),
        ("95", "95", "11", "Île-de-France"),
        ("971", "971", "01", "Guadeloupe"),
        ("972", "972", "02", "Martinique"),
        ("973", "973", "03", "Guyane"),
        ("974", "974", "04", "La Réunion"),
        ("976", "976", "06", "Mayotte"),
    ],
)
def test_a_department_code_gives_its_region(
    written: str, code: str, region: str, region_name: str
) -> None:
    department = parse_department(written)
    assert (department.code, department.region_code, department.region_name) == (
        code,
        region,
        region_name,
    )
    assert region_of(code) == region


@pytest.mark.parametrize(
    "value",
    ["", " ", "0", "00", "20", "96", "97", "975", "977", "98", "99", "100", "2C", "A", "7 5"],
)
def test_an_unknown_department_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_department(value)
    assert (err.value.code, err.value.field) == ("DEPARTMENT_UNKNOWN", "department")
    assert repr(value) in err.value.message


def test_the_department_refusal_names_the_field_the_caller_chose() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_department("20", "residence")
    assert err.value.field == "residence"
