"""The registry of document types is complete data (RULES R6 type and class, R10, R20)."""

from __future__ import annotations

import pytest

from dmp.domain.document_types import (
    ADVANCE_DIRECTIVES,
    CLASS_CODES,
    COMPLEMENTARY_SYSTEM,
    LOINC_SYSTEM,
    VACCINATION_HISTORY,
    all_document_types,
    document_type,
    parse_document_types,
)
from dmp.domain.errors import InvalidInput
from dmp.domain.matrix import Category

HEADER = "loinc,title_fr,category,notes\n"


def test_r10_every_matrix_category_has_at_least_one_document_type() -> None:
    categories = {t.category for t in all_document_types()}
    assert categories == set(Category)


def test_r6_every_registered_type_resolves_with_its_class() -> None:
    for registered in all_document_types():
        found = document_type(registered.loinc)
        assert found == registered
        assert found.title
        assert (found.class_code, found.class_display) == CLASS_CODES[found.category]


def test_r6_class_codes_are_the_dmp_classes_one_per_category() -> None:
    """JDV_J57-ClassCode-DMP: eleven classes, the eleven matrix categories."""
    codes = [code for code, _ in CLASS_CODES.values()]
    assert set(CLASS_CODES) == set(Category)
    assert sorted(codes) == ["10", "11", "31", "42", "43", "44", "45", "52", "60", "90", "95"]
    assert document_type("11488-4").class_code == "10"
    assert document_type("18748-4").class_code == "31"


def test_r20_vaccination_history_and_advance_directives_are_registered() -> None:
    assert document_type(VACCINATION_HISTORY).title == "Historique des vaccinations"
    assert document_type(ADVANCE_DIRECTIVES).category is Category.DEPOSE_PAR_PATIENT


def test_codes_without_loinc_are_ans_complementary_codes() -> None:
    assert document_type("11488-4").system == LOINC_SYSTEM
    assert document_type("REMB").system == COMPLEMENTARY_SYSTEM
    assert document_type("REMB").category is Category.REMBOURSEMENT


@pytest.mark.parametrize("code", ["99999-9", "11488-5", "", "remb", "PDF"])
def test_r6_unknown_document_type_is_refused_naming_the_code(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        document_type(code, field="type.coding[0].code")
    assert caught.value.code == "DOCUMENT_TYPE_UNKNOWN"
    assert caught.value.field == "type.coding[0].code"
    assert repr(code) in caught.value.message


def test_a_non_text_code_is_refused_not_crashing() -> None:
    with pytest.raises(InvalidInput) as caught:
        document_type(11488, field="type")  # type: ignore[arg-type]
    assert caught.value.code == "DOCUMENT_TYPE_UNKNOWN"


def test_category_labels_are_read_in_any_spelling() -> None:
    text = HEADER + "11488-4,A,Plan de soins / protocole,\n11490-0,B,plan_de_soins,\n"
    assert {t.category for t in parse_document_types(text)} == {Category.PLAN_DE_SOINS}


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ("11488-5,Compte rendu,compte-rendu,", "DOCUMENT_TYPES_CODE"),  # wrong check digit
        ("11 488-4,Compte rendu,compte-rendu,", "DOCUMENT_TYPES_CODE"),
        ("11488-4,,compte-rendu,", "DOCUMENT_TYPES_ROW"),
        ("11488-4,Compte rendu,radiologie,", "DOCUMENT_TYPES_CATEGORY"),
        ("11488-4,A,compte-rendu,\n11488-4,B,synthèse,", "DOCUMENT_TYPES_ROW"),
    ],
)
def test_a_registry_file_with_a_bad_row_is_refused(row: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_document_types(HEADER + row + "\n")
    assert caught.value.code == code
    assert caught.value.field == "document_types"
    assert "line " in caught.value.message
