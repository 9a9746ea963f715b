"""A person's identity traits and their eligibility (RULES R1).

The five INS traits are birth name, first names, birth date, sex and birthplace;
the registry of beneficiaries gives all but the birthplace, which stays optional.
Only beneficiaries of a social-security regime may have a record (DESIGN: eligibility).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from dmp.domain.errors import InvalidInput
from dmp.domain.identity import Sex, check_identity_consistency

MAJORITY_AGE = 18
_REGIME = re.compile(r"[0-9A-Za-z_-]{1,32}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Identity:
    ins: str
    family_name: str
    given_names: str
    birth_date: date
    sex: Sex

    def __post_init__(self) -> None:
        check_identity_consistency(self.ins, self.birth_date, self.sex)


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """A line of the insurer's registry: who is covered, by which regime."""

    identity: Identity
    department: str
    regime: str


def parse_name(value: object, field: str) -> str:
    """A person's name: 1–100 printable characters, spaces collapsed."""
    if not isinstance(value, str):
        raise InvalidInput("NAME", f"expected text, got {type(value).__name__}", field)
    name = " ".join(value.split())
    if not name:
        raise InvalidInput("NAME_EMPTY", "must not be empty", field)
    if len(name) > 100:
        raise InvalidInput("NAME_LENGTH", f"at most 100 characters, got {len(name)}", field)
    if not name.isprintable():
        raise InvalidInput("NAME_CHARACTERS", "contains control characters", field)
    return name


def parse_birth_date(value: object, today: date, field: str = "birth_date") -> date:
    """A birth date as YYYY-MM-DD, not in the future, not before 1880."""
    if isinstance(value, date):
        born = value
    else:
        if not isinstance(value, str):
            raise InvalidInput("DATE", f"expected YYYY-MM-DD, got {value!r}", field)
        try:
            born = date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                "DATE", f"expected a date YYYY-MM-DD, got {value!r}", field
            ) from None
        # fromisoformat also reads '1985-W11-4' (ten characters): only YYYY-MM-DD is ours.
        if not _ISO_DATE.fullmatch(value.strip()):
            raise InvalidInput("DATE", f"expected a date YYYY-MM-DD, got {value!r}", field)
    if born > today:
        raise InvalidInput("DATE_FUTURE", f"{born.isoformat()} is in the future", field)
    if born.year < 1880:
        raise InvalidInput("DATE_RANGE", f"{born.isoformat()} is implausibly old", field)
    return born


def parse_regime(value: object, field: str = "regime") -> str:
    if not isinstance(value, str) or not _REGIME.fullmatch(value.strip()):
        raise InvalidInput(
            "REGIME", f"expected a regime code of 1–32 letters or digits, got {value!r}", field
        )
    return value.strip()


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day`."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def is_minor(birth_date: date, day: date) -> bool:
    """RULES R3: a minor's rights are exercised by the legal representatives."""
    return age_on(birth_date, day) < MAJORITY_AGE
