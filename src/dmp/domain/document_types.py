"""The registry of document types: what a document is (typeCode), and its class (classCode).

RULES R6: every document carries its type, coded in LOINC as in the ANS's value set for
the DMP (JDV_J66-TypeCode-DMP, French titles from TRE_A04-Loinc), and its class. Where
the DMP has no LOINC code for a kind of document (the insurer's reimbursement data, some
management documents) it uses the ANS's complementary codes (TRE_A05-TypeDocComplementaire,
OID 1.2.250.1.213.1.1.4.12); the registry holds both and `DocumentType.system` says which.

The class is the DMP's XDS classCode (JDV_J57-ClassCode-DMP, OID 1.2.250.1.213.1.1.5.6,
codes from TRE_A03-ClasseDocument, OID 1.2.250.1.213.1.1.4.1). Its eleven classes are the
eleven categories of the authorisation matrix (RULES R10), so a type's class follows from
its category: one table below, no second source to keep in step.

The registry is data (domain/data/document_types.csv, a copy of the project's reference
list plus the rows marked "added by dmp"); a new type is one row. A file with an unknown
category, a duplicate code or a LOINC code whose check digit is wrong is refused.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from stdnum import luhn

from dmp.domain.errors import InvalidInput
from dmp.domain.matrix import CATEGORY_LABELS, Category

VACCINATION_HISTORY = "11369-6"  # R20: exempt from the 2-year default search window
ADVANCE_DIRECTIVES = "42348-3"  # R5: advance directives (CSP R1111-42)

LOINC_SYSTEM = "http://loinc.org"
COMPLEMENTARY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire"
CLASS_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.1"  # TRE_A03-ClasseDocument
# The same code system as FHIR names it (DocumentReference.category in the DMP's FHIR guide).
CLASS_SYSTEM_URL = (
    "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
)

# JDV_J57-ClassCode-DMP (ANS, version 20230922): code and display of each class.
CLASS_CODES: dict[Category, tuple[str, str]] = {
    Category.COMPTE_RENDU: ("10", "Compte rendu"),
    Category.SYNTHESE: ("11", "Synthèse"),
    Category.IMAGERIE: ("31", "Imagerie médicale"),
    Category.PRESCRIPTION: ("42", "Prescription"),
    Category.DISPENSATION: ("43", "Dispensation"),
    Category.PLAN_DE_SOINS: ("44", "Plan de soins, protocole de soins"),
    Category.TRAITEMENT_ADMINISTRE: ("45", "Traitement administré"),
    Category.CERTIFICAT: ("52", "Certificat, déclaration"),
    Category.REMBOURSEMENT: ("60", "Données de remboursement"),
    Category.DEPOSE_PAR_PATIENT: ("90", "Autres documents déposés par le patient"),
    Category.GESTION: ("95", "Document de gestion"),
}

_LOINC = re.compile(r"([0-9]{1,7})-([0-9])")
_COMPLEMENTARY = re.compile(r"[A-Z][A-Z0-9_-]{1,39}")


@dataclass(frozen=True, slots=True)
class DocumentType:
    """One type of document: its code, French title, matrix category and DMP class."""

    loinc: str  # the type code: LOINC, or a TRE_A05 code where LOINC has none (see `system`)
    title: str
    category: Category
    class_code: str
    class_display: str

    @property
    def system(self) -> str:
        """The code system of `loinc`: LOINC, or the ANS's complementary codes."""
        return LOINC_SYSTEM if _LOINC.fullmatch(self.loinc) else COMPLEMENTARY_SYSTEM


def _category_key(text: str) -> str:
    # "Plan de soins / protocole", "plan de soins/protocole" and "plan_de_soins" are one.
    return re.sub(r"[\s_]+", "", text.casefold())


_CATEGORIES_BY_KEY = {
    **{_category_key(label): category for category, label in CATEGORY_LABELS.items()},
    **{_category_key(category.value): category for category in Category},
}


def _check_code(code: str, line: int) -> None:
    loinc = _LOINC.fullmatch(code)
    if loinc:
        # A LOINC code ends with a mod-10 (Luhn) check digit: it catches a mistyped code.
        if luhn.calc_check_digit(loinc.group(1)) != loinc.group(2):
            raise InvalidInput(
                "DOCUMENT_TYPES_CODE",
                f"line {line}: the check digit of LOINC code {code} is wrong",
                "document_types",
            )
    elif not _COMPLEMENTARY.fullmatch(code):
        raise InvalidInput(
            "DOCUMENT_TYPES_CODE",
            f"line {line}: {code!r} is neither a LOINC code nor an ANS complementary code",
            "document_types",
        )


def parse_document_types(text: str) -> tuple[DocumentType, ...]:
    """Read a registry CSV: loinc,title_fr,category[,notes]."""
    types: dict[str, DocumentType] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        code = (row.get("loinc") or "").strip()
        title = (row.get("title_fr") or "").strip()
        if not code or not title:
            raise InvalidInput(
                "DOCUMENT_TYPES_ROW", f"line {line}: code and title are required", "document_types"
            )
        _check_code(code, line)
        if code in types:
            raise InvalidInput(
                "DOCUMENT_TYPES_ROW", f"line {line}: {code} is listed twice", "document_types"
            )
        category = _CATEGORIES_BY_KEY.get(_category_key(row.get("category") or ""))
        if category is None:
            raise InvalidInput(
                "DOCUMENT_TYPES_CATEGORY",
                f"line {line}: {row.get('category')!r} is not one of the matrix categories",
                "document_types",
            )
        class_code, class_display = CLASS_CODES[category]
        types[code] = DocumentType(code, title, category, class_code, class_display)
    return tuple(types.values())


@cache
def _registry() -> dict[str, DocumentType]:
    text = resources.files("dmp.domain").joinpath("data/document_types.csv").read_text("utf-8")
    return {t.loinc: t for t in parse_document_types(text)}


def all_document_types() -> tuple[DocumentType, ...]:
    """Every type a document may have, in the registry's order."""
    return tuple(_registry().values())


def document_type(loinc: str, field: str = "type") -> DocumentType:
    """The registered type with this code, or InvalidInput naming the code (RULES R6)."""
    found = _registry().get(loinc.strip()) if isinstance(loinc, str) else None
    if found is None:
        raise InvalidInput(
            "DOCUMENT_TYPE_UNKNOWN",
            f"document type {loinc!r} is not in the registry of DMP document types",
            field,
        )
    return found
