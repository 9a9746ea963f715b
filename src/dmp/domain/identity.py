"""Identifiers of people and organisations, validated with errors naming the field.

- INS (Identifiant National de Santé): the person's own NIR (OID 1.2.250.1.213.1.4.8)
  or NIA (1.2.250.1.213.1.4.9). 15 characters: sex (1), birth year (2), birth month
  (2), birthplace (5: department + commune, 2A/2B for Corsica), serial (3), key (2)
  where key = 97 − (first 13 digits mod 97), 2A read as 19 and 2B as 18 (RULES R1).
  The key arithmetic comes from python-stdnum; the structure rules are INSEE's.
- RPPS: 11 digits, the last a Luhn check digit over the first ten.
- FINESS: 9 characters, a department prefix (incl. 2A/2B; 97 for overseas) and a
  Luhn key over the 9 characters when they are all digits. How the key is computed
  for Corsican prefixes is unconfirmed, so those are checked for structure only
  (docs/decisions/0002-identifier-checks.md).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Literal

from stdnum import luhn
from stdnum.fr import nir as stdnum_nir

from dmp.domain.errors import InvalidInput

Sex = Literal["F", "M"]

_INS_SEX_DIGITS = {"1": "M", "2": "F", "3": "M", "4": "F", "7": "M", "8": "F"}
_RPPS = re.compile(r"[0-9]{11}")
_FINESS = re.compile(r"([0-9]{2}|2A|2B)[0-9]{7}")
# Metropolitan departments (no "20" since Corsica split in 1976), overseas (97x),
# overseas collectivities (98x).
_FINESS_PREFIXES = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "97", "98"]
)
_INSURER_OFFICE = re.compile(r"[0-9A-Z]{3,12}")


def _clean(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("NOT_A_STRING", f"expected text, got {type(value).__name__}")
    return value.replace(" ", "").replace(".", "").strip().upper()


def _is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' or fullwidth digits."""
    return text.isascii() and text.isdigit()


def parse_ins(value: object, field: str = "ins") -> str:
    """The INS in its compact 15-character form, or InvalidInput naming why."""
    try:
        ins = _clean(value)
    except InvalidInput as exc:
        raise InvalidInput("INS_FORMAT", exc.message, field) from None
    if len(ins) != 15:
        raise InvalidInput("INS_LENGTH", f"must be 15 characters, got {len(ins)}", field)
    if ins[0] not in _INS_SEX_DIGITS:
        raise InvalidInput(
            "INS_SEX_DIGIT", f"first character must be 1, 2, 3, 4, 7 or 8, got {ins[0]!r}", field
        )
    if not _is_digits(ins[1:5]):
        raise InvalidInput(
            "INS_FORMAT", "characters 2–5 (birth year and month) must be digits", field
        )
    month = int(ins[3:5])
    if not (1 <= month <= 12 or month == 20 or 30 <= month <= 42 or month >= 50):
        raise InvalidInput("INS_MONTH", f"birth month {ins[3:5]} is not a valid NIR month", field)
    place = ins[5:7]
    if place in ("2A", "2B"):
        pass
    elif not _is_digits(place) or place == "00":
        raise InvalidInput(
            "INS_DEPARTMENT", f"birth department {place!r} must be 01–99, 2A or 2B", field
        )
    if not _is_digits(ins[7:]):
        raise InvalidInput("INS_FORMAT", "characters 8–15 must be digits", field)
    # The structure was checked above, so stdnum's key arithmetic alone is enough.
    if stdnum_nir.calc_check_digits(ins) != ins[13:]:
        # The expected key is not given: "fixing" the key would hide a typo elsewhere.
        raise InvalidInput(
            "INS_KEY", f"control key {ins[13:]} does not match the first 13 characters", field
        )
    return ins


def ins_key(first13: str) -> str:
    """The two-digit control key of the first 13 characters of an INS."""
    return str(stdnum_nir.calc_check_digits(first13 + "00"))


def ins_sex(ins: str) -> Sex:
    """The sex an INS encodes (odd first digit: M, even: F)."""
    return "M" if _INS_SEX_DIGITS[ins[0]] == "M" else "F"


def check_identity_consistency(ins: str, birth_date: date, sex: Sex) -> None:
    """The identity traits must agree with what the INS encodes (sex, birth year/month)."""
    if ins_sex(ins) != sex:
        raise InvalidInput(
            "SEX_MISMATCH", f"sex {sex} contradicts the INS, which encodes {ins_sex(ins)}", "sex"
        )
    if int(ins[1:3]) != birth_date.year % 100:
        raise InvalidInput(
            "BIRTH_DATE_MISMATCH",
            f"birth year {birth_date.year} contradicts the INS, which encodes ..{ins[1:3]}",
            "birth_date",
        )
    month = int(ins[3:5])
    if 1 <= month <= 12 and month != birth_date.month:
        raise InvalidInput(
            "BIRTH_DATE_MISMATCH",
            f"birth month {birth_date.month:02d} contradicts the INS, which encodes {ins[3:5]}",
            "birth_date",
        )


def parse_sex(value: object, field: str = "sex") -> Sex:
    text = value.strip().upper() if isinstance(value, str) else value
    if text == "F":
        return "F"
    if text == "M":
        return "M"
    raise InvalidInput("SEX", f"must be F or M, got {value!r}", field)


def parse_rpps(value: object, field: str = "rpps") -> str:
    """An RPPS number: 11 digits with a Luhn check digit."""
    if not isinstance(value, str):
        raise InvalidInput("RPPS_FORMAT", f"expected text, got {type(value).__name__}", field)
    return _parse_rpps(value, field)


@lru_cache(maxsize=65536)  # batch files repeat the same openers: check each once
def _parse_rpps(value: str, field: str) -> str:
    rpps = _clean(value)
    if not _RPPS.fullmatch(rpps):
        raise InvalidInput("RPPS_FORMAT", f"must be 11 digits, got {value!r}", field)
    if not luhn.is_valid(rpps):
        raise InvalidInput("RPPS_KEY", f"Luhn check digit of {rpps} is wrong", field)
    return rpps


def parse_finess(value: object, field: str = "finess") -> str:
    """A FINESS number: 9 characters, department prefix, Luhn key when all digits."""
    if not isinstance(value, str):
        raise InvalidInput("FINESS_FORMAT", f"expected text, got {type(value).__name__}", field)
    return _parse_finess(value, field)


@lru_cache(maxsize=65536)
def _parse_finess(value: str, field: str) -> str:
    finess = _clean(value)
    if not _FINESS.fullmatch(finess):
        raise InvalidInput(
            "FINESS_FORMAT",
            f"must be 9 characters: a department (01…95, 2A, 2B, 97) then digits, got {value!r}",
            field,
        )
    prefix = finess[:2]
    if prefix not in _FINESS_PREFIXES:
        raise InvalidInput("FINESS_DEPARTMENT", f"department prefix {prefix} does not exist", field)
    if _is_digits(finess) and not luhn.is_valid(finess):
        raise InvalidInput("FINESS_KEY", f"Luhn check key of {finess} is wrong", field)
    return finess


def parse_insurer_office(value: object, field: str = "opened_by") -> str:
    """An insurer office code (the caisse and its office): 3–12 letters or digits."""
    try:
        code = _clean(value)
    except InvalidInput as exc:
        raise InvalidInput("OFFICE_FORMAT", exc.message, field) from None
    if not _INSURER_OFFICE.fullmatch(code):
        raise InvalidInput(
            "OFFICE_FORMAT",
            f"insurer office code must be 3–12 letters or digits, got {value!r}",
            field,
        )
    return code


def make_rpps(first10: str) -> str:
    """Complete ten digits into a valid RPPS (for generators and tests)."""
    return first10 + luhn.calc_check_digit(first10)


def make_finess(first8: str) -> str:
    """Complete eight digits into a valid FINESS (for generators and tests)."""
    return first8 + luhn.calc_check_digit(first8)
