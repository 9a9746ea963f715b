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
