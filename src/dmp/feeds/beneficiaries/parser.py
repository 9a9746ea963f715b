"""Lines of the insurer's registry of beneficiaries -> Beneficiary, or a Rejection.

Columns: ins,family_name,given_names,birth_date,sex,department,regime
"""

from __future__ import annotations

from datetime import date

from dmp.domain.errors import DomainError
from dmp.domain.geography import parse_department
from dmp.domain.identity import parse_ins, parse_sex
from dmp.domain.people import Beneficiary, Identity, parse_birth_date, parse_name, parse_regime
from dmp.feeds.csvsource import Rejection

COLUMNS = ("ins", "family_name", "given_names", "birth_date", "sex", "department", "regime")


def parse_line(line: int, row: dict[str, str], today: date) -> tuple[int, Beneficiary] | Rejection:
    try:
        identity = Identity(
            parse_ins(row["ins"]),
            parse_name(row["family_name"], "family_name"),
            parse_name(row["given_names"], "given_names"),
            parse_birth_date(row["birth_date"], today),
            parse_sex(row["sex"]),
        )
        beneficiary = Beneficiary(
            identity, parse_department(row["department"]).code, parse_regime(row["regime"])
        )
    except DomainError as exc:
        return Rejection(line, exc.field, exc.code, exc.message)
    return line, beneficiary
