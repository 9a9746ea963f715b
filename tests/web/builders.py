"""Records opened through the real use cases, for the dashboard's tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from dmp.domain.people import Beneficiary, Identity
from dmp.services import records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from tests.personas import CLINIC, DR_BOB_RPPS, INSURER_OFFICE, PHARMACY, make_ins

OPENER = {
    "online": None,
    "pharmacy": PHARMACY,
    "insurer": INSURER_OFFICE,
    "professional": DR_BOB_RPPS,
    "establishment": CLINIC,
}

# (when, channel, department of residence)
Opening = tuple[datetime, str, str]


def person(n: int, department: str) -> Beneficiary:
    """The n-th synthetic beneficiary (n < 1000), living in `department`."""
    born = date(1970 + n % 30, 1 + n % 12, 15)
    sex_digit, sex = ("1", "M") if n % 2 else ("2", "F")
    ins = make_ins(sex_digit, born, "75056", f"{n:03d}")
    return Beneficiary(Identity(ins, f"Nom{n}", f"Prénom{n}", born, sex), department, "01")


def open_records(db: Database, openings: Iterable[Opening], first: int = 0) -> list[str]:
    """Register one beneficiary per opening and open their record; returns the INS."""
    planned = list(openings)
    people = [person(first + i, dep) for i, (_, _, dep) in enumerate(planned)]
    load_beneficiaries_batch(db, system_ctx(planned[0][0], "test"), people, "test")
    for who, (when, channel, _) in zip(people, planned, strict=True):
        request = records.OpenRequest(who.identity.ins, channel, OPENER[channel], "holder", True)
        records.open_record(db, system_ctx(when, "test"), request)
    return [p.identity.ins for p in people]
