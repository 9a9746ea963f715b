"""The authorisation matrix is complete data (RULES R10)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dmp.domain.errors import InvalidInput
from dmp.domain.matrix import Category, default_matrix, parse_matrix

PROFESSIONS_REFERENCE = Path(__file__).parents[2] / "src/dmp/domain/data/authorisation_matrix.csv"


def test_r10_every_profession_by_category_cell_is_defined() -> None:
    matrix = default_matrix()
    assert len(matrix.cells) >= 19
    for profession, row in matrix.cells.items():
        assert set(row) == set(Category), profession
        assert matrix.labels[profession]


def test_r10_medecin_and_pharmacien_defaults_are_the_reviewed_ones() -> None:
    matrix = default_matrix()
    assert matrix.rights("10", Category.COMPTE_RENDU).write
    assert matrix.rights("21", Category.DISPENSATION).write
    assert not matrix.rights("21", Category.COMPTE_RENDU).write
    assert not matrix.rights("86", Category.SYNTHESE).read


def test_unknown_profession_gets_nothing() -> None:
    rights = default_matrix().rights("99", Category.SYNTHESE)
    assert not rights.read
    assert not rights.write


def _text(mutate: str) -> str:
    rows = list(csv.reader(io.StringIO(PROFESSIONS_REFERENCE.read_text("utf-8"))))
    if mutate == "gap":
        rows[1][4] = ""
    elif mutate == "bad cell":
        rows[2][5] = "W"
    elif mutate == "missing column":
        rows = [r[:-1] for r in rows]
    elif mutate == "duplicate":
        rows.append(rows[1])
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        ("gap", "MATRIX_CELL"),
        ("bad cell", "MATRIX_CELL"),
        ("missing column", "MATRIX_COLUMNS"),
        ("duplicate", "MATRIX_PROFESSION"),
    ],
)
def test_r10_a_matrix_file_with_a_gap_or_a_typo_is_refused(mutate: str, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_matrix(_text(mutate))
    assert err.value.code == code
