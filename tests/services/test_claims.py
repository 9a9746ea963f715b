"""The care history through the guard, on SQLite and PostgreSQL (issue 5; RULES R3, R5,
R8–R11, R15, R16): who reads a record's claim lines, per persona, each reading traced;
the 24-month window whatever the dates asked; `dmp purge` drops what is older."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from dmp.domain.actors import Actor, Role
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import make_rpps
from dmp.services import care_team, records
from dmp.services.claims import care_history
from dmp.services.context import Ctx, system_ctx
from dmp.services.retention import purge_old_claims
from dmp.storage.db import Database
from dmp.storage.schema import audit_event, representative
from tests.feeds.claims_files import FIRST_DAY, NOW, TODAY, claim, registry, run, write
from tests.personas import ALICE, BOB, LEO, PHARMACY

DOCTOR = make_rpps("1000000001")  # profession 10: the matrix lets médecins read it
KINE = make_rpps("1000000002")  # profession 70: the matrix gives no read on remboursement
STRANGER = make_rpps("1000000003")
BLOCKED = make_rpps("1000000004")
MT = make_rpps("1000000005")
PARENT = "parent-leo"


def as_(actor: Actor) -> Ctx:
    return Ctx(actor, NOW, "test")


def pro(rpps: str, profession: str = "10") -> Actor:
    return Actor(Role.PROFESSIONAL, rpps, profession=profession, organisation=PHARMACY)


ALICE_ME = Actor(Role.PATIENT, ALICE.ins)


@pytest.fixture
def history(db: Database, tmp_path: Path) -> Database:
    """Alice's and Léo's records, their claims loaded; Alice's care team set."""
    registry(db)
    for ins, by in ((ALICE.ins, "holder"), (LEO.ins, "legal_representative")):
        request = records.OpenRequest(ins, "pharmacy", PHARMACY, by, True)
        records.open_record(db, system_ctx(NOW - timedelta(days=400)), request)
    with db.write() as conn:
        conn.execute(
            insert(representative).values(ins=LEO.ins, representative=PARENT, name="P", since=NOW)
        )
    for rpps, change in (
        (DOCTOR, "authorise"),
        (KINE, "authorise"),
        (BLOCKED, "block"),
        (MT, "medecin_traitant"),
    ):
        care_team.change_professional(db, as_(ALICE_ME), ALICE.ins, rpps, change)
    lines = [
        claim("A1", ALICE.ins, "2026-03-01"),
        claim("A2", ALICE.ins, FIRST_DAY.isoformat(), category="biology", code="1104"),
        claim("A3", ALICE.ins, TODAY.isoformat(), category="consultation", code="G"),
        claim("L1", LEO.ins, "2025-12-24"),
        claim("B1", BOB.ins, "2025-06-01"),
    ]
    assert run(db, write(tmp_path, lines)).counts["inserted"] == 5
    return db


def ids(db: Database, actor: Actor, ins: str = ALICE.ins, **query: object) -> list[str]:
    page = care_history(db, as_(actor), ins, **query)  # type: ignore[arg-type]
    return [line.claim_id for line in page.lines]


ALL = ["A3", "A1", "A2"]  # newest care first


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("holder", ALL),
        ("authorised médecin (matrix: R on remboursement)", ALL),
        ("médecin traitant", ALL),
        ("authorised kinésithérapeute (matrix: no read)", []),
        ("blocked professional", []),
        ("unauthorised professional", []),
        ("insurer agent", []),
        ("complementary insurer", []),
        ("employer", []),
        ("another patient", []),
    ],
)
def test_r8_r10_r15_who_reads_the_care_history(
    history: Database, who: str, sees: list[str]
) -> None:
    actor = {
        "holder": ALICE_ME,
        "authorised médecin (matrix: R on remboursement)": pro(DOCTOR),
        "médecin traitant": pro(MT),
        "authorised kinésithérapeute (matrix: no read)": pro(KINE, "70"),
        "blocked professional": pro(BLOCKED),
        "unauthorised professional": pro(STRANGER),
        "insurer agent": Actor(Role.INSURER_AGENT, "agent-751A01"),
        "complementary insurer": Actor(Role.COMPLEMENTARY_INSURER, "mutuelle-1"),
        "employer": Actor(Role.EMPLOYER, "employer-1"),
        "another patient": Actor(Role.PATIENT, BOB.ins),
    }[who]
    page = care_history(history, as_(actor), ALICE.ins)
    assert [line.claim_id for line in page.lines] == sees
    assert page.total == len(sees)  # a refusal counts nothing, as for no record at all
    last = _events(history, ALICE.ins)[-1]
    assert (last["action"], last["actor_id"]) == ("claims.read", actor.id)
    assert last["outcome"] == ("success" if sees else "denied")


def test_r3_a_minors_representative_reads_the_minors_history_and_the_minor_does_not(
    history: Database,
) -> None:
    assert ids(history, Actor(Role.REPRESENTATIVE, PARENT)) == []  # not Alice's
    assert ids(history, Actor(Role.REPRESENTATIVE, PARENT), LEO.ins) == ["L1"]
    assert ids(history, Actor(Role.PATIENT, LEO.ins), LEO.ins) == []
    assert ids(history, Actor(Role.REPRESENTATIVE, "someone-else"), LEO.ins) == []


def test_a_record_that_does_not_exist_gives_the_same_empty_page(history: Database) -> None:
    assert care_history(history, as_(Actor(Role.PATIENT, BOB.ins)), BOB.ins).total == 0


def test_r5_dates_and_categories_filter_within_the_24_month_window(history: Database) -> None:
    assert ids(history, ALICE_ME, since=date(2026, 3, 1)) == ["A3", "A1"]
    assert ids(history, ALICE_ME, until=date(2026, 3, 1)) == ["A1", "A2"]
    assert ids(history, ALICE_ME, category=frozenset({"biology", "consultation"})) == ["A3", "A2"]
    page = care_history(history, as_(ALICE_ME), ALICE.ins, since=date(2000, 1, 1))
    assert page.since == FIRST_DAY  # never further back than the window
    assert ids(history, ALICE_ME, count=1, offset=1) == ["A1"]
    with pytest.raises(InvalidInput):
        care_history(history, as_(ALICE_ME), ALICE.ins, category=frozenset({"vet"}))


def test_r5_a_line_leaves_the_history_the_day_after_the_window_and_purge_drops_it(
    history: Database,
) -> None:
    tomorrow = Ctx(ALICE_ME, NOW + timedelta(days=1), "test")
    assert [x.claim_id for x in care_history(history, tomorrow, ALICE.ins).lines] == ["A3", "A1"]
    assert purge_old_claims(history, system_ctx(NOW), TODAY) == 0
    later = system_ctx(NOW + timedelta(days=1))
    assert purge_old_claims(history, later, TODAY + timedelta(days=1)) == 1
    assert ids(history, ALICE_ME) == ["A3", "A1"]
    with pytest.raises(InvalidInput):
        purge_old_claims(history, system_ctx(NOW), TODAY + timedelta(days=2))
    purges = [e for e in _events(history, None) if e["action"] == "claims.purge"]
    assert purges[-1]["detail"]["deleted"] == 1


def _events(db: Database, ins: str | None) -> list[dict[str, object]]:
    chain = f"record:{ins}" if ins else "system"
    with db.read() as conn:
        rows = conn.scalars(
            select(audit_event.c.event)
            .where(audit_event.c.chain == chain)
            .order_by(audit_event.c.seq)
        )
        return [json.loads(r) for r in rows]
