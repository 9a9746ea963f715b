"""The insurer's claim lines: the care history of a record (RULES R5: the insurer's
reimbursement data, 24 months; DESIGN: content).

A line is one reimbursed act or product:
`claim_id,ins,care_date,category,code,label,quantity,performer_rpps,performer_name,
performer_profession,prescriber_rpps,facility_finess`. This module is the one source of
truth on what a valid line is (`parse_claim_line`, errors naming the field), which
nomenclature each category's code comes from, which days the 24-month window holds, and
what a re-sent claim_id means. The feed's vectorised checks (feeds/claims/checks.py)
are a fast path that accepts only what this module accepts; the lines they doubt are
judged here, one by one.

The window (RULES R5, "24 months"): on a given Paris day `today`, the window holds every
care date from `window_start(today)` — the same calendar day 24 months earlier, or the
last day of that month when it has no such day (29 February → 28 February) — to `today`,
both included. So on 15 March 2026 care of 15 March 2024 is shown and care of 14 March
2024 is not; a care date after today is an error in the feed (docs/decisions/
0010-claims-feed.md).

Conflicts: `claim_id` is the insurer's unique line id. A line whose claim_id is stored
with the same content is a duplicate (a re-sent file: nothing to do); with any field
different it is a conflict, reported and never overwritten (`differing_field`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum

from dmp.domain.errors import InvalidInput
from dmp.domain.identity import parse_finess, parse_ins, parse_rpps

WINDOW_MONTHS = 24
MAX_QUANTITY = 99_999
MAX_LABEL = 200
MAX_NAME = 100
MAX_CLAIM_ID = 64

COLUMNS = (
    "claim_id",
    "ins",
    "care_date",
    "category",
    "code",
    "label",
    "quantity",
    "performer_rpps",
    "performer_name",
    "performer_profession",
    "prescriber_rpps",
    "facility_finess",
)
OPTIONAL = frozenset(COLUMNS[7:])

CLAIM_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
PROFESSION = re.compile(r"[0-9]{2}")
CARE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
QUANTITY = re.compile(r"[1-9][0-9]{0,4}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1 control characters


class ClaimCategory(StrEnum):
    CONSULTATION = "consultation"
    TECHNICAL_ACT = "technical_act"
    BIOLOGY = "biology"
    PHARMACY = "pharmacy"
    HOSPITAL_STAY = "hospital_stay"
    PARAMEDICAL = "paramedical"
    DENTAL = "dental"
    OPTICAL = "optical"
    MEDICAL_DEVICE = "medical_device"


CATEGORY_LABELS = {
    ClaimCategory.CONSULTATION: "Consultation",
    ClaimCategory.TECHNICAL_ACT: "Acte technique",
    ClaimCategory.BIOLOGY: "Biologie",
    ClaimCategory.PHARMACY: "Pharmacie",
    ClaimCategory.HOSPITAL_STAY: "Séjour hospitalier",
    ClaimCategory.PARAMEDICAL: "Soins paramédicaux",
    ClaimCategory.DENTAL: "Dentaire",
    ClaimCategory.OPTICAL: "Optique",
    ClaimCategory.MEDICAL_DEVICE: "Dispositif médical",
}


def ean13_key(first12: str) -> str:
    """The EAN-13 check digit (CIP13 codes are EAN-13 numbers)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def _cip13_key_ok(code: str) -> bool:
    return ean13_key(code[:12]) == code[12]


@dataclass(frozen=True, slots=True)
class Nomenclature:
    """A coding system of claim codes. The code's structure is checked (and a check
    key where the nomenclature has one); membership in the official lists is not,
    since they are not shipped (docs/decisions/0010-claims-feed.md)."""

    name: str
    system: str  # the FHIR system URI
    pattern: str  # the whole code, as a regular expression (RE2 and re alike)
    shape: str  # what the error says is expected
    key: Callable[[str], bool] | None = None

    def accepts(self, code: str) -> bool:
        return re.fullmatch(self.pattern, code) is not None and (self.key is None or self.key(code))


# CCAM and CIP OIDs are the ANS's (CI-SIS); the others' OIDs are unconfirmed: dmp's own
# URNs until an official system is confirmed.
CCAM = Nomenclature(
    "CCAM", "urn:oid:1.2.250.1.213.2.5", "[A-Z]{4}[0-9]{3}", "4 letters and 3 digits"
)
NGAP = Nomenclature(
    "NGAP", "urn:dmp:nomenclature:ngap", "[A-Z]{1,4}[0-9]?", "1–4 capital letters (key letter)"
)
NABM = Nomenclature("NABM", "urn:dmp:nomenclature:nabm", "[0-9]{4}", "4 digits")
CIP13 = Nomenclature(
    "CIP13",
    "urn:oid:1.2.250.1.213.2.3.2",
    "34009[0-9]{8}",
    "13 digits starting 34009, EAN-13 key",
    _cip13_key_ok,
)
GHM = Nomenclature(
    "GHM", "urn:dmp:nomenclature:ghm", "[0-9]{2}[CKMZH][0-9]{2}[1-4A-EJTZ]", "a GHM (e.g. 05M092)"
)
LPP = Nomenclature("LPP", "urn:dmp:nomenclature:lpp", "[0-9]{7}", "7 digits")

NOMENCLATURES: dict[ClaimCategory, Nomenclature] = {
    ClaimCategory.CONSULTATION: NGAP,
    ClaimCategory.TECHNICAL_ACT: CCAM,
    ClaimCategory.BIOLOGY: NABM,
    ClaimCategory.PHARMACY: CIP13,
    ClaimCategory.HOSPITAL_STAY: GHM,
    ClaimCategory.PARAMEDICAL: NGAP,
    ClaimCategory.DENTAL: CCAM,
    ClaimCategory.OPTICAL: LPP,
    ClaimCategory.MEDICAL_DEVICE: LPP,
}


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """A valid claim line (normalised: compact identifiers, None for absent options)."""

    claim_id: str
    ins: str
    care_date: date
    category: ClaimCategory
    code: str
    label: str
    quantity: int
    performer_rpps: str | None = None
    performer_name: str | None = None
    performer_profession: str | None = None
    prescriber_rpps: str | None = None
    facility_finess: str | None = None

    @property
    def nomenclature(self) -> Nomenclature:
        return NOMENCLATURES[self.category]


def parse_claim_line(row: Mapping[str, str | None]) -> ClaimLine:
    """A claim line from its raw fields, or InvalidInput naming the first bad field.

    Empty optional fields are absent. The 24-month window is not checked here: see
    `check_care_date` (a date outside it is not an error, only not kept).
    """
    claim_id = parse_claim_id(_text(row, "claim_id"))
    ins = parse_ins(_required(row, "ins"))
    care_date = parse_care_date(_text(row, "care_date"))
    category = parse_category(_text(row, "category"))
    return ClaimLine(
        claim_id=claim_id,
        ins=ins,
        care_date=care_date,
        category=category,
        code=parse_code(category, _text(row, "code")),
        label=_bounded(row, "label", MAX_LABEL, required=True) or "",
        quantity=parse_quantity(_text(row, "quantity")),
        performer_rpps=_optional(row, "performer_rpps", parse_rpps),
        performer_name=_bounded(row, "performer_name", MAX_NAME, required=False),
        performer_profession=_optional(row, "performer_profession", parse_profession),
        prescriber_rpps=_optional(row, "prescriber_rpps", parse_rpps),
        facility_finess=_optional(row, "facility_finess", parse_finess),
    )


def parse_code(category: ClaimCategory, code: str) -> str:
    """A code of the category's nomenclature (CCAM, NGAP, NABM, CIP13, GHM, LPP)."""
    nomenclature = NOMENCLATURES[category]
    if not code:
        raise InvalidInput("REQUIRED", "is required", "code")
    if not nomenclature.accepts(code):
        raise InvalidInput(
            "CODE_NOMENCLATURE",
            f"{code!r} is not a {nomenclature.name} code ({nomenclature.shape}) "
            f"as category {category.value} requires",
            "code",
        )
    return code


def parse_claim_id(value: str) -> str:
    if not CLAIM_ID.fullmatch(value):
        raise InvalidInput(
            "CLAIM_ID",
            f"must be 1–{MAX_CLAIM_ID} letters, digits, '.', '_' or '-', got {value!r}",
            "claim_id",
        )
    return value


def parse_category(value: str) -> ClaimCategory:
    try:
        return ClaimCategory(value)
    except ValueError:
        raise InvalidInput(
            "CATEGORY",
            f"{value!r} is not one of {', '.join(c.value for c in ClaimCategory)}",
            "category",
        ) from None


def parse_care_date(value: str) -> date:
    if not CARE_DATE.fullmatch(value):
        raise InvalidInput("DATE", f"expected YYYY-MM-DD, got {value!r}", "care_date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("DATE", f"{value} is not a calendar date", "care_date") from None


def parse_quantity(value: str) -> int:
    if not QUANTITY.fullmatch(value):
        raise InvalidInput(
            "QUANTITY",
            f"must be a whole number from 1 to {MAX_QUANTITY}, got {value!r}",
            "quantity",
        )
    return int(value)


def parse_profession(value: str, field: str = "performer_profession") -> str:
    if not PROFESSION.fullmatch(value):
        raise InvalidInput("PROFESSION", f"must be a 2-digit profession code, got {value!r}", field)
    return value


def _text(row: Mapping[str, str | None], field: str) -> str:
    return row.get(field) or ""


def _required(row: Mapping[str, str | None], field: str) -> str:
    value = _text(row, field)
    if not value:
        raise InvalidInput("REQUIRED", "is required", field)
    return value


def _optional(
    row: Mapping[str, str | None], field: str, parse: Callable[[str, str], str]
) -> str | None:
    value = _text(row, field)
    return parse(value, field) if value else None


def _bounded(
    row: Mapping[str, str | None], field: str, limit: int, *, required: bool
) -> str | None:
    value = _text(row, field)
    if not value:
        if required:
            raise InvalidInput("REQUIRED", "is required", field)
        return None
    if len(value) > limit:
        raise InvalidInput("TOO_LONG", f"at most {limit} characters, got {len(value)}", field)
    if CONTROL.search(value):
        raise InvalidInput("CONTROL_CHARACTER", "contains a control character", field)
    return value


def window_start(today: date) -> date:
    """The first care date of the window on `today` (RULES R5: 24 months, both ends in).

    The same calendar day 24 months earlier; the last day of that month when it has
    no such day (on 29 February 2028 the window starts on 28 February 2026).
    """
    year, month = divmod(today.year * 12 + today.month - 1 - WINDOW_MONTHS, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(today.day, last))


def in_window(care_date: date, today: date) -> bool:
    """RULES R5: a care date the care history shows on `today`."""
    return window_start(today) <= care_date <= today


def check_care_date(care_date: date, today: date) -> bool:
    """True if the care date is within the window, False if older (kept nowhere);
    InvalidInput if it is after `today` (no care is reimbursed before it happens)."""
    if care_date > today:
        raise InvalidInput(
            "CARE_DATE_FUTURE",
            f"{care_date.isoformat()} is after today ({today.isoformat()})",
            "care_date",
        )
    return care_date >= window_start(today)


def differing_field(stored: ClaimLine, incoming: ClaimLine) -> str | None:
    """The first field in which a re-sent claim differs from the stored one (a
    conflict), or None when it is the same line (a duplicate)."""
    for f in fields(ClaimLine):
        if getattr(stored, f.name) != getattr(incoming, f.name):
            return f.name
    return None


def conflict_reason(field: str) -> str:
    return f"claim_id already stored with a different {field}; the stored line is kept"
