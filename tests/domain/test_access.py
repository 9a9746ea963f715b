"""The access policy, table-driven: every persona × document state × action (RULES
R3, R4, R7–R16). The expectations are written out here from the rules, not derived
from the code under test; a leak is any allow the table does not list."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from dmp.domain.access import (
    Action,
    CareLink,
    DocumentFacts,
    Emergency,
    EmergencyKind,
    RecordFacts,
    Request,
    decide,
)
from dmp.domain.actors import Actor, Role
from dmp.domain.audit import Purpose
from dmp.domain.matrix import Category, default_matrix
from dmp.domain.records import RecordStatus
from tests.personas import ALICE, LEO

NOW = datetime(2019, 3, 1, 12, 0, tzinfo=UTC)
MATRIX = default_matrix()
ALICE_RECORD = RecordFacts(ALICE.ins, RecordStatus.OPEN, ALICE.birth_date)
LEO_RECORD = RecordFacts(LEO.ins, RecordStatus.OPEN, LEO.birth_date, frozenset({"parent-1"}))
DR_MT = "10000000001"  # the médecin traitant's RPPS
AUTHOR = "10000000027"

ACTION_LIST = list(Action)


def doc(category: Category = Category.COMPTE_RENDU, **flags: object) -> DocumentFacts:
    return DocumentFacts(category, AUTHOR, NOW - timedelta(days=3), **flags)  # type: ignore[arg-type]


DOC_STATES = {
    "normal": doc(),
    "masked": doc(masked=True),
    "hidden from patient (3 days)": doc(hidden_from_patient=True),
    "hidden from patient (40 days)": replace(
        doc(hidden_from_patient=True), published_at=NOW - timedelta(days=40)
    ),
    "hidden from representatives": doc(hidden_from_representatives=True),
    "by the patient": DocumentFacts(Category.DEPOSE_PAR_PATIENT, ALICE.ins, NOW),
}


def ask(
    actor: Actor,
    action: Action,
    document: DocumentFacts | None,
    record: RecordFacts = ALICE_RECORD,
    link: CareLink | None = None,
    emergency: Emergency | None = None,
) -> bool:
    request = Request(
        actor,
        action,
        record,
        NOW,
        MATRIX,
        link or CareLink(),
        emergency,
        document,
        document.category if document else Category.COMPTE_RENDU,
    )
    return decide(request).allowed


NEVER = [
    Actor(Role.COMPLEMENTARY_INSURER, "mutuelle-1"),
    Actor(Role.EMPLOYER, "employer-1"),
    Actor(Role.OCCUPATIONAL_DOCTOR, "10000000035", profession="10"),
    Actor(Role.ANONYMOUS, "anonymous"),
    Actor(Role.INSURER_AGENT, "CPAM75-desk-3"),
    Actor(Role.OPERATOR, "operator-1"),
]


@pytest.mark.parametrize("actor", NEVER, ids=lambda a: a.role.value)
@pytest.mark.parametrize("state", DOC_STATES)
def test_r15_never_roles_read_or_change_nothing_even_when_authorised(
    actor: Actor, state: str
) -> None:
    administrative = {Action.OPEN_RECORD}
    if actor.role in (Role.INSURER_AGENT, Role.OPERATOR):
        # R3: recording who acts for a minor is the desk's, and reads no content.
        administrative.add(Action.MANAGE_REPRESENTATIVES)
    for action in set(ACTION_LIST) - administrative:
        full = CareLink(authorised=True, medecin_traitant=True, full_rights=True)
        assert not ask(actor, action, DOC_STATES[state], link=full), action


def test_r3_the_insurer_desk_records_representatives_and_the_never_roles_do_not() -> None:
    assert ask(Actor(Role.INSURER_AGENT, "desk"), Action.MANAGE_REPRESENTATIVES, None)
    for role in (Role.COMPLEMENTARY_INSURER, Role.EMPLOYER, Role.ANONYMOUS):
        assert not ask(Actor(role, "x"), Action.MANAGE_REPRESENTATIVES, None)
    assert not ask(HOLDER, Action.MANAGE_REPRESENTATIVES, None)


def test_r2_insurer_desk_may_open_but_complementary_insurer_may_not() -> None:
    assert ask(Actor(Role.INSURER_AGENT, "desk"), Action.OPEN_RECORD, None)
    assert not ask(Actor(Role.COMPLEMENTARY_INSURER, "m"), Action.OPEN_RECORD, None)


HOLDER = Actor(Role.PATIENT, ALICE.ins)
# What the holder may read, per state (R13: hidden until announced, at most 1 month).
HOLDER_READS = {
    "normal": True,
    "masked": True,
    "hidden from patient (3 days)": False,
    "hidden from patient (40 days)": True,
    "hidden from representatives": True,
    "by the patient": True,
}


@pytest.mark.parametrize("state", DOC_STATES)
def test_r13_the_holder_reads_all_but_what_is_hidden_until_announced(state: str) -> None:
    assert ask(HOLDER, Action.READ_DOCUMENT, DOC_STATES[state]) is HOLDER_READS[state]


def test_r7_r12_the_holder_masks_deletes_own_adds_patient_documents_only() -> None:
    normal, own = DOC_STATES["normal"], DOC_STATES["by the patient"]
    assert ask(HOLDER, Action.MASK_DOCUMENT, normal)
    assert not ask(HOLDER, Action.DELETE_DOCUMENT, normal)
    assert ask(HOLDER, Action.DELETE_DOCUMENT, own)
    assert ask(HOLDER, Action.WRITE_DOCUMENT, own)
    assert not ask(HOLDER, Action.WRITE_DOCUMENT, normal)
    assert not ask(HOLDER, Action.HIDE_DOCUMENT, normal)
    for action in (Action.READ_HISTORY, Action.MANAGE_ACCESS, Action.CLOSE_RECORD):
        assert ask(HOLDER, action, None)


@pytest.mark.parametrize("state", DOC_STATES)
@pytest.mark.parametrize("action", ACTION_LIST)
def test_r8_another_patient_gets_nothing(state: str, action: Action) -> None:
    other = Actor(Role.PATIENT, LEO.ins)
    if action is Action.OPEN_RECORD:
        return
    assert not ask(other, action, DOC_STATES[state])


def test_r3_representatives_act_for_a_minor_but_not_on_what_is_hidden_from_them() -> None:
    parent = Actor(Role.REPRESENTATIVE, "parent-1")
    assert ask(parent, Action.READ_DOCUMENT, DOC_STATES["normal"], record=LEO_RECORD)
    assert not ask(
        parent, Action.READ_DOCUMENT, DOC_STATES["hidden from representatives"], record=LEO_RECORD
    )
    assert not ask(Actor(Role.REPRESENTATIVE, "stranger"), Action.READ_RECORD, None, LEO_RECORD)
    # The minor himself does not exercise the rights (R3).
    assert not ask(Actor(Role.PATIENT, LEO.ins), Action.READ_RECORD, None, record=LEO_RECORD)


def test_r3_at_eighteen_the_representatives_lose_access_and_the_holder_gains_it() -> None:
    grown = replace(LEO_RECORD, birth_date=date(2001, 3, 1))  # 18 on NOW's day
    assert not ask(Actor(Role.REPRESENTATIVE, "parent-1"), Action.READ_RECORD, None, grown)
    assert ask(Actor(Role.PATIENT, LEO.ins), Action.READ_RECORD, None, grown)
    day_before = replace(LEO_RECORD, birth_date=date(2001, 3, 2))
    assert ask(Actor(Role.REPRESENTATIVE, "parent-1"), Action.READ_RECORD, None, day_before)


PROFESSIONS = sorted(MATRIX.cells)


def pro(profession: str, rpps: str = "10000000043") -> Actor:
    return Actor(Role.PROFESSIONAL, rpps, profession=profession, organisation="750000010")


@pytest.mark.parametrize(
    ("profession", "category"), list(itertools.product(PROFESSIONS, list(Category)))
)
def test_r10_an_authorised_professional_reads_and_writes_exactly_what_the_matrix_says(
    profession: str, category: Category
) -> None:
    actor, link = pro(profession), CareLink(authorised=True)
    cell = MATRIX.rights(profession, category)
    normal, masked = doc(category), doc(category, masked=True)
    assert ask(actor, Action.READ_DOCUMENT, normal, link=link) is cell.read
    assert ask(actor, Action.WRITE_DOCUMENT, normal, link=link) is cell.write
    assert not ask(actor, Action.READ_DOCUMENT, masked, link=link)  # R12
    assert not ask(actor, Action.DELETE_DOCUMENT, normal, link=link)  # R7: not the author
    assert not ask(actor, Action.MASK_DOCUMENT, normal, link=link)


@pytest.mark.parametrize("state", DOC_STATES)
@pytest.mark.parametrize("action", ACTION_LIST)
def test_r8_r9_unauthorised_and_blocked_professionals_get_nothing_but_opening(
    state: str, action: Action
) -> None:
    if action in (Action.OPEN_RECORD, Action.RECORD_CONSENT, Action.DECLARE_EMERGENCY):
        return  # the explicit ways in, tested below
    for link in (
        CareLink(),
        CareLink(authorised=True, blocked=True),
        CareLink(medecin_traitant=True, blocked=True),
    ):
        assert not ask(pro("10"), action, DOC_STATES[state], link=link), link


@pytest.mark.parametrize("state", DOC_STATES)
def test_r11_the_medecin_traitant_reads_everything_including_masked(state: str) -> None:
    mt = pro("10", DR_MT)
    assert ask(mt, Action.READ_DOCUMENT, DOC_STATES[state], link=CareLink(medecin_traitant=True))
    assert ask(mt, Action.READ_HISTORY, None, link=CareLink(medecin_traitant=True))
    # R11: the same rights may be given to another professional, of any profession.
    nurse = pro("60")
    assert ask(nurse, Action.READ_DOCUMENT, DOC_STATES[state], link=CareLink(full_rights=True))


def test_r12_r7_the_author_reads_masked_and_alone_deletes_or_hides() -> None:
    author = pro("10", AUTHOR)
    link = CareLink(authorised=True)
    for action in (Action.READ_DOCUMENT, Action.DELETE_DOCUMENT, Action.HIDE_DOCUMENT):
        assert ask(author, action, DOC_STATES["masked"], link=link), action
    assert not ask(pro("10"), Action.HIDE_DOCUMENT, DOC_STATES["normal"], link=link)


def emergency(kind: EmergencyKind, start: timedelta, hours: int = 24) -> Emergency:
    started = NOW + start
    return Emergency(kind, "patient inconscient", started, started + timedelta(hours=hours))


@pytest.mark.parametrize("kind", list(EmergencyKind))
def test_r14_emergency_access_before_during_and_after_expiry(kind: EmergencyKind) -> None:
    er = pro("10", "10000000050")
    normal, masked = DOC_STATES["normal"], DOC_STATES["masked"]
    during = emergency(kind, -timedelta(hours=1))
    request = Request(
        er, Action.READ_DOCUMENT, ALICE_RECORD, NOW, MATRIX, CareLink(), during, normal
    )
    decision = decide(request)
    assert decision.allowed
    assert decision.purpose is Purpose.EMERGENCY
    assert not ask(er, Action.READ_DOCUMENT, masked, emergency=during)  # stays masked
    expired = emergency(kind, -timedelta(hours=25))
    assert not ask(er, Action.READ_DOCUMENT, normal, emergency=expired)
    not_yet = emergency(kind, timedelta(hours=1))
    assert not ask(er, Action.READ_DOCUMENT, normal, emergency=not_yet)
    refused = replace(ALICE_RECORD, refused=frozenset({kind}))
    assert not ask(er, Action.READ_DOCUMENT, normal, record=refused, emergency=during)
    other_kind = next(k for k in EmergencyKind if k is not kind)
    refused_other = replace(ALICE_RECORD, refused=frozenset({other_kind}))
    assert ask(er, Action.READ_DOCUMENT, normal, record=refused_other, emergency=during)
    blocked = CareLink(blocked=True)
    assert not ask(er, Action.READ_DOCUMENT, normal, link=blocked, emergency=during)  # R9


@pytest.mark.parametrize("status", [RecordStatus.CLOSED, RecordStatus.PURGED])
def test_r4_closed_and_purged_records_are_read_by_no_professional(status: RecordStatus) -> None:
    record = replace(ALICE_RECORD, status=status)
    mt = CareLink(medecin_traitant=True)
    assert not ask(pro("10", DR_MT), Action.READ_DOCUMENT, DOC_STATES["normal"], record, mt)
    assert not ask(HOLDER, Action.READ_DOCUMENT, DOC_STATES["normal"], record)
    assert ask(HOLDER, Action.READ_HISTORY, None, record) is (status is RecordStatus.CLOSED)


def test_every_decision_names_the_rule_that_decided() -> None:
    for actor, action, state in itertools.product(
        [HOLDER, pro("21"), *NEVER], ACTION_LIST, DOC_STATES
    ):
        request = Request(
            actor,
            action,
            ALICE_RECORD,
            NOW,
            MATRIX,
            CareLink(authorised=True),
            None,
            DOC_STATES[state],
        )
        rule = decide(request).rule
        assert rule.startswith("R")
        assert ": " in rule


def test_r8_r9_a_professional_records_consent_unless_blocked() -> None:
    assert ask(pro("60"), Action.RECORD_CONSENT, None)
    assert not ask(pro("60"), Action.RECORD_CONSENT, None, link=CareLink(blocked=True))
    closed = replace(ALICE_RECORD, status=RecordStatus.CLOSED)
    assert not ask(pro("60"), Action.RECORD_CONSENT, None, record=closed)
    assert not ask(HOLDER, Action.RECORD_CONSENT, None)


@pytest.mark.parametrize("kind", list(EmergencyKind))
def test_r14_declaring_an_emergency_needs_a_kind_not_refused_and_no_block(
    kind: EmergencyKind,
) -> None:
    during = emergency(kind, timedelta(0))
    assert ask(pro("10"), Action.DECLARE_EMERGENCY, None, emergency=during)
    assert not ask(pro("10"), Action.DECLARE_EMERGENCY, None)
    refused = replace(ALICE_RECORD, refused=frozenset({kind}))
    assert not ask(pro("10"), Action.DECLARE_EMERGENCY, None, record=refused, emergency=during)
    blocked = CareLink(blocked=True)
    assert not ask(pro("10"), Action.DECLARE_EMERGENCY, None, link=blocked, emergency=during)
    assert not ask(HOLDER, Action.DECLARE_EMERGENCY, None, emergency=during)


def test_r16_every_access_action_is_an_audited_action() -> None:
    from dmp.domain.audit import AuditAction

    assert {a.value for a in Action} <= {a.value for a in AuditAction}
