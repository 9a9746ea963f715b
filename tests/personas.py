"""People the tests talk about, with valid identifiers (INS keys computed, RPPS and
FINESS with their Luhn keys)."""

from __future__ import annotations

from datetime import date

from dmp.domain.identity import ins_key, make_finess, make_rpps
from dmp.domain.people import Beneficiary, Identity


def make_ins(sex_digit: str, born: date, place: str, serial: str) -> str:
    """An INS for someone born on `born` at `place` (5 characters: department + commune)."""
    first13 = f"{sex_digit}{born.year % 100:02d}{born.month:02d}{place}{serial}"
    return first13 + ins_key(first13)


ALICE = Identity(
    make_ins("2", date(1985, 3, 14), "75056", "123"),
    "Martin",
    "Alice Marie",
    date(1985, 3, 14),
    "F",
)
BOB = Identity(
    make_ins("1", date(1950, 11, 2), "2A004", "045"), "Santoni", "Bernard", date(1950, 11, 2), "M"
)
LEO = Identity(
    make_ins("1", date(2015, 6, 30), "13055", "201"), "Durand", "Léo", date(2015, 6, 30), "M"
)  # a minor
ZOE = Identity(
    make_ins("2", date(1992, 8, 21), "97411", "301"), "Payet", "Zoé", date(1992, 8, 21), "F"
)

ALICE_BENEFICIARY = Beneficiary(ALICE, "75", "01")
BOB_BENEFICIARY = Beneficiary(BOB, "2A", "01")
LEO_BENEFICIARY = Beneficiary(LEO, "13", "01")
# ZOE is not in the registry.

PHARMACY = make_finess("75000001")  # a Paris pharmacy
CLINIC = make_finess("13000002")
DR_BOB_RPPS = make_rpps("1000000001")
INSURER_OFFICE = "751A01"


# Builders: more people, and the lines of the files the feeds read.


def numbered_identity(
    n: int, sex: str = "F", born: date = date(1970, 1, 15), place: str = "69123"
) -> Identity:
    """The n-th of a crowd of distinct, valid identities (n < 1000)."""
    sex_digit = "2" if sex == "F" else "1"
    ins = make_ins(sex_digit, born, place, f"{n:03d}")
    return Identity(ins, f"Nom{n}", f"Prénom{n}", born, "F" if sex == "F" else "M")


LEGACY_HEADER = "ins,family_name,given_names,birth_date,sex,department,opened_at,channel,opened_by"
REGISTRY_HEADER = "ins,family_name,given_names,birth_date,sex,department,regime"


def legacy_line(
    who: Identity,
    department: str = "69",
    opened_at: str = "2018-11-06T09:30:00+01:00",
    channel: str = "pharmacy",
    opened_by: str = PHARMACY,
) -> str:
    """One line of the legacy records file (issue 2), unquoted."""
    return ",".join(
        [
            who.ins,
            who.family_name,
            who.given_names,
            who.birth_date.isoformat(),
            who.sex,
            department,
            opened_at,
            channel,
            opened_by,
        ]
    )


def registry_line(who: Beneficiary) -> str:
    """One line of the insurer's registry of beneficiaries, unquoted."""
    p = who.identity
    return ",".join(
        [
            p.ins,
            p.family_name,
            p.given_names,
            p.birth_date.isoformat(),
            p.sex,
            who.department,
            who.regime,
        ]
    )
