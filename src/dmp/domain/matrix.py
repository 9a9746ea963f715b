"""The authorisation matrix: what each profession may read or write, per document
category (RULES R10; arrêté of 26 October 2023: professions × 11 categories).

The matrix is data, not code: a CSV shipped with the package (reviewed defaults,
since the official cell values are not public in a verifiable form) that an operator
may replace with their own file (DMP_AUTHORISATION_MATRIX) without touching code.
Every profession × category cell must be defined; a file with a gap is refused.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from dmp.domain.errors import InvalidInput


class Category(StrEnum):
    """The 11 document categories of the matrix."""

    COMPTE_RENDU = "compte_rendu"
    SYNTHESE = "synthese"
    IMAGERIE = "imagerie"
    PRESCRIPTION = "prescription"
    DISPENSATION = "dispensation"
    PLAN_DE_SOINS = "plan_de_soins"
    TRAITEMENT_ADMINISTRE = "traitement_administre"
    CERTIFICAT = "certificat"
    REMBOURSEMENT = "remboursement"
    DEPOSE_PAR_PATIENT = "depose_par_patient"
    GESTION = "gestion"


CATEGORY_LABELS = {
    Category.COMPTE_RENDU: "Compte-rendu",
    Category.SYNTHESE: "Synthèse",
    Category.IMAGERIE: "Imagerie médicale",
    Category.PRESCRIPTION: "Prescription",
    Category.DISPENSATION: "Dispensation",
    Category.PLAN_DE_SOINS: "Plan de soins / protocole",
    Category.TRAITEMENT_ADMINISTRE: "Traitement administré",
    Category.CERTIFICAT: "Certificat / déclaration",
    Category.REMBOURSEMENT: "Données de remboursement",
    Category.DEPOSE_PAR_PATIENT: "Documents déposés par le patient",
    Category.GESTION: "Documents de gestion",
}


@dataclass(frozen=True, slots=True)
class Rights:
    read: bool
    write: bool


_CELLS = {"RW": Rights(True, True), "R": Rights(True, False), "-": Rights(False, False)}


@dataclass(frozen=True, slots=True)
class Matrix:
    """Profession code -> category -> rights, plus the professions' labels."""

    cells: dict[str, dict[Category, Rights]]
    labels: dict[str, str]

    def rights(self, profession: str | None, category: Category) -> Rights:
        """Unknown professions get nothing (deny by default)."""
        row = self.cells.get(profession or "")
        return row[category] if row else _CELLS["-"]


def parse_matrix(text: str) -> Matrix:
    """Read a matrix CSV: profession,label, then one column per category (RW, R or -)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    missing = [c.value for c in Category if not rows or c.value not in rows[0]]
    if missing:
        raise InvalidInput(
            "MATRIX_COLUMNS", f"missing category column(s): {', '.join(missing)}", "matrix"
        )
    cells: dict[str, dict[Category, Rights]] = {}
    labels: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        code = (row.get("profession") or "").strip()
        if not code:
            raise InvalidInput("MATRIX_PROFESSION", f"line {n}: profession code missing", "matrix")
        if code in cells:
            raise InvalidInput(
                "MATRIX_PROFESSION", f"line {n}: profession {code} listed twice", "matrix"
            )
        values: dict[Category, Rights] = {}
        for category in Category:
            cell = (row.get(category.value) or "").strip().upper()
            if cell not in _CELLS:
                raise InvalidInput(
                    "MATRIX_CELL",
                    f"line {n}: profession {code} × {category.value} is {cell!r}; use RW, R or -",
                    "matrix",
                )
            values[category] = _CELLS[cell]
        cells[code] = values
        labels[code] = (row.get("label") or code).strip()
    return Matrix(cells, labels)


@cache
def default_matrix() -> Matrix:
    """The reviewed defaults shipped with dmp."""
    text = (
        resources.files("dmp.domain").joinpath("data/authorisation_matrix.csv").read_text("utf-8")
    )
    return parse_matrix(text)
