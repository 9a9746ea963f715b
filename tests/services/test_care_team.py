"""Who may access a record, enforced by the guard and traced either way (RULES R8,
R9, R11, R14, R16, R17), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dmp.domain.actors import Actor, Role
from dmp.domain.audit import Purpose
from dmp.domain.errors import InvalidInput, NotFound
from dmp.domain.identity import make_rpps
from dmp.services import care_team, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.contacts import ContactRequest, set_contact, set_professional_contact
from dmp.services.context import Ctx, system_ctx
from dmp.services.retention import purge_expired
from dmp.storage.db import Database
from dmp.storage.schema import audit_event, holder_contact, notification_outbox
from tests.personas import ALICE, ALICE_BENEFICIARY, BOB, BOB_BENEFICIARY, PHARMACY

NOW = datetime(2019, 2, 1, 9, 0, tzinfo=UTC)
DR_MT = make_rpps("1000000001")
NURSE = make_rpps("1000000002")
STRANGER = make_rpps("1000000003")


def as_(actor: Actor, now: datetime = NOW) -> Ctx:
    return Ctx(actor, now, "test")


ALICE_ME = Actor(Role.PATIENT, ALICE.ins)
BOB_ME = Actor(Role.PATIENT, BOB.ins)


def doctor(rpps: str, profession: str = "10") -> Actor:
    return Actor(Role.PROFESSIONAL, rpps, profession=profession, organisation=PHARMACY)


@pytest.fixture
def alice(db: Database) -> Database:
    load_beneficiaries_batch(db, system_ctx(NOW), [ALICE_BENEFICIARY, BOB_BENEFICIARY], "t")
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(NOW - timedelta(days=30)), request)
    set_contact(db, as_(ALICE_ME), ALICE.ins, ContactRequest("alice@example.org"))
    return db


def events(db: Database, ins: str) -> list[dict[str, object]]:
    with db.read() as conn:
        rows = conn.scalars(
            select(audit_event.c.event)
            .where(audit_event.c.chain == f"record:{ins}")
            .order_by(audit_event.c.seq)
        )
        return [json.loads(r) for r in rows]


def notices(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.scalars(select(notification_outbox.c.kind)))


def test_r8_an_unauthorised_professional_sees_nothing_and_the_attempt_is_traced(
    alice: Database,
) -> None:
    with pytest.raises(NotFound) as err:
        records.get_record(alice, as_(doctor(STRANGER)), ALICE.ins)
    assert err.value.code == "RECORD_NOT_FOUND"  # the same as for no record at all
    last = events(alice, ALICE.ins)[-1]
    assert (last["action"], last["outcome"], last["actor_id"]) == (
        "record.read",
        "denied",
        STRANGER,
    )
    assert str(last["reason"]).startswith("R8")


def test_r8_r17_an_authorised_professional_reads_and_the_first_access_is_notified(
    alice: Database,
) -> None:
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, NURSE, "authorise")
    nurse = doctor(NURSE, "60")
    assert records.get_record(alice, as_(nurse), ALICE.ins).ins == ALICE.ins
    records.get_record(alice, as_(nurse, NOW + timedelta(hours=1)), ALICE.ins)
    assert notices(alice).count("first_access") == 1
    assert events(alice, ALICE.ins)[-1]["outcome"] == "success"


def test_r9_a_blocked_professional_is_refused_even_with_consent_in_care(alice: Database) -> None:
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, STRANGER, "block")
    with pytest.raises(NotFound):
        care_team.record_consent_in_care(alice, as_(doctor(STRANGER)), ALICE.ins)
    with pytest.raises(NotFound):
        records.get_record(alice, as_(doctor(STRANGER)), ALICE.ins)
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, STRANGER, "unblock")
    care_team.record_consent_in_care(alice, as_(doctor(STRANGER)), ALICE.ins)
    assert records.get_record(alice, as_(doctor(STRANGER)), ALICE.ins).ins == ALICE.ins


def test_r8_only_the_holder_manages_access(alice: Database) -> None:
    for intruder in (BOB_ME, doctor(DR_MT), Actor(Role.INSURER_AGENT, "desk")):
        with pytest.raises(NotFound):
            care_team.change_professional(alice, as_(intruder), ALICE.ins, NURSE, "authorise")
    with pytest.raises(InvalidInput):
        care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, NURSE, "adopt")


def test_r11_one_medecin_traitant_at_a_time(alice: Database) -> None:
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, DR_MT, "medecin_traitant")
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, STRANGER, "medecin_traitant")
    team = dict(care_team.care_team_of(alice, as_(ALICE_ME), ALICE.ins))
    assert team[STRANGER].medecin_traitant
    assert not team[DR_MT].medecin_traitant
    assert team[DR_MT].authorised  # still authorised, no longer médecin traitant


def test_r14_r17_emergency_access_is_time_limited_traced_and_notified(alice: Database) -> None:
    er = doctor(make_rpps("1000000004"))
    with pytest.raises(NotFound):
        records.get_record(alice, as_(er), ALICE.ins)
    care_team.declare_emergency(alice, as_(er), ALICE.ins, "bris_de_glace", "inconsciente")
    records.get_record(alice, as_(er, NOW + timedelta(hours=2)), ALICE.ins)
    read = events(alice, ALICE.ins)[-1]
    assert (read["outcome"], read["purpose"]) == ("success", Purpose.EMERGENCY.value)
    assert "emergency_access" in notices(alice)
    with pytest.raises(NotFound):
        records.get_record(alice, as_(er, NOW + timedelta(hours=25)), ALICE.ins)


def test_r14_an_emergency_needs_a_reason_and_a_known_kind(alice: Database) -> None:
    er = as_(doctor(make_rpps("1000000004")))
    with pytest.raises(InvalidInput) as err:
        care_team.declare_emergency(alice, er, ALICE.ins, "bris_de_glace", "  ")
    assert err.value.code == "REASON_MISSING"
    with pytest.raises(InvalidInput):
        care_team.declare_emergency(alice, er, ALICE.ins, "panic", "raison")


def test_r14_the_holder_refuses_samu_in_advance_but_not_bris_de_glace(alice: Database) -> None:
    care_team.set_emergency_choices(alice, as_(ALICE_ME), ALICE.ins, False, True)
    samu = doctor(make_rpps("1000000005"))
    with pytest.raises(NotFound):
        care_team.declare_emergency(alice, as_(samu), ALICE.ins, "samu", "appel au 15")
    denied = events(alice, ALICE.ins)[-1]
    assert (denied["action"], denied["outcome"]) == ("emergency.access", "denied")
    care_team.declare_emergency(alice, as_(samu), ALICE.ins, "bris_de_glace", "inconsciente")


def test_r4_purging_a_record_forgets_the_holder_contact_and_notices(alice: Database) -> None:
    records.close_record(alice, as_(ALICE_ME), ALICE.ins, "holder", "fin")
    assert notices(alice) == ["record_closed"]
    purge_expired(
        alice, system_ctx(NOW + timedelta(days=3660)), (NOW + timedelta(days=3655)).date()
    )
    assert notices(alice) == []
    with alice.read() as conn:
        assert conn.execute(select(holder_contact)).first() is None


def test_r16_care_team_changes_and_emergencies_say_what_and_why_in_the_trail(
    alice: Database,
) -> None:
    """The holder's history tells which professional was authorised or blocked, the
    emergency choices made, and each emergency's kind, reason and end (R14, R16)."""
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, NURSE, "authorise")
    care_team.set_emergency_choices(alice, as_(ALICE_ME), ALICE.ins, False, True)
    er = doctor(make_rpps("1000000004"))
    care_team.declare_emergency(alice, as_(er), ALICE.ins, "bris_de_glace", "inconsciente")
    trail = events(alice, ALICE.ins)
    changes = [e["detail"] for e in trail if e["action"] == "access.manage"]
    assert {"change": "authorise", "professional": NURSE} in changes
    assert {"refuse_bris_de_glace": False, "refuse_samu": True} in changes
    [emergency] = [e for e in trail if e["action"] == "emergency.access"]
    assert emergency["detail"]["kind"] == "bris_de_glace"
    assert emergency["detail"]["reason"] == "inconsciente"
    assert emergency["detail"]["expires_at"] == (NOW + timedelta(hours=24)).isoformat()


def test_r14_the_medecin_traitant_is_told_of_an_emergency_at_their_address(
    alice: Database,
) -> None:
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, DR_MT, "medecin_traitant")
    set_professional_contact(alice, system_ctx(NOW), DR_MT, "dr.mt@medecin.mssante.fr")
    er = doctor(make_rpps("1000000004"))
    care_team.declare_emergency(alice, as_(er), ALICE.ins, "samu", "détresse respiratoire")
    with alice.read() as conn:
        rows = conn.execute(
            select(
                notification_outbox.c.kind,
                notification_outbox.c.recipient,
                notification_outbox.c.body,
            )
        ).all()
    sent = {kind: (recipient, body) for kind, recipient, body in rows}
    assert sent["emergency_access"][0] == "alice@example.org"
    recipient, body = sent["emergency_access_mt"]
    assert recipient == "dr.mt@medecin.mssante.fr"
    assert ALICE.family_name in body
    assert "détresse" not in body  # the stated reason stays in the access history


def test_r14_an_unknown_doctor_address_is_recorded_as_undeliverable(alice: Database) -> None:
    care_team.change_professional(alice, as_(ALICE_ME), ALICE.ins, DR_MT, "medecin_traitant")
    er = doctor(make_rpps("1000000004"))
    care_team.declare_emergency(alice, as_(er), ALICE.ins, "bris_de_glace", "inconsciente")
    with alice.read() as conn:
        status = conn.execute(
            select(notification_outbox.c.status).where(
                notification_outbox.c.kind == "emergency_access_mt"
            )
        ).scalar_one()
    assert status == "undeliverable"


def test_a_professional_contact_needs_a_valid_rpps_and_address(alice: Database) -> None:
    with pytest.raises(InvalidInput) as err:
        set_professional_contact(alice, system_ctx(NOW), "123", "x@y.fr")
    assert err.value.field == "rpps"
    with pytest.raises(InvalidInput) as err:
        set_professional_contact(alice, system_ctx(NOW), DR_MT, "pas une adresse")
    assert err.value.field == "email"
