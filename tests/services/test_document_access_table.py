"""Zero leaks: every persona × every document state × every action, at the service
level, on SQLite and PostgreSQL (issue 3, "Done when"; RULES R3, R7–R15, R16).

One world is built per database, through the services: Alice (an adult) and Léo (a
minor, with his legal representative), their records, Dr Bob authorised on both, a
médecin traitant, one authorised professional of every profession of the matrix,
emergencies declared, and everybody who must see nothing. Series of documents — Dr
Bob's comptes-rendus, the pharmacist's dispensations, the holder's own deposits — exist
in every state: normal, masked, hidden from the holder (under a month, and over),
hidden from the representatives, deleted, superseded (and its replacement), archived;
one normal document of each other category completes the matrix.

Then the personas search, read, retrieve, delete, archive, mask and hide through the
services (`find`, `read_document`, `retrieve`, `delete_document`, `archive_document`,
`set_flags`; `acts` says which cells run), and what happens is compared with an ORACLE
written here from the rules alone — never with `domain.access.decide`. A change that
succeeds is undone at once (the stored state put back): each cell sees the world as
built.

"Zero leaks" is meant strongly (STYLE habit 3): a refusal is `NotFound`
DOCUMENT_NOT_FOUND, as for a document id that does not exist (it names neither the
record nor the patient); a refused search is an empty
page with total 0; `total` counts only what the caller may see. Every refusal is in
the audit trail as a DENIED event naming the actor (R16).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from dmp.domain.actors import ANONYMOUS, Actor, Role
from dmp.domain.documents import (
    MAX_PAGE,
    Document,
    DocumentQuery,
    DocumentStatus,
    Flag,
    NewDocument,
    Submission,
    Visibility,
    delete,
    set_archived,
)
from dmp.domain.errors import DomainError, NotFound
from dmp.domain.identity import make_finess, make_rpps
from dmp.domain.matrix import Category
from dmp.feeds.synthetic.documents import make_pdf
from dmp.services import care_team, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.care_team import DEFAULT_EMERGENCY_DURATION
from dmp.services.context import Ctx, system_ctx
from dmp.services.documents import (
    Page,
    Vault,
    archive_document,
    delete_document,
    find,
    publish,
    read_document,
    retrieve,
    set_flags,
)
from dmp.storage import documents as stored_documents
from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import load_master_key
from dmp.storage.schema import audit_event, representative
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB,
    BOB_BENEFICIARY,
    DR_BOB_RPPS,
    LEO,
    LEO_BENEFICIARY,
    PHARMACY,
    ZOE,
)

# --- time: the table is evaluated around NOW; time travel is another `now` ---------

NOW = datetime(2019, 2, 1, 9, 0, tzinfo=UTC)  # emergencies are declared at NOW
SETUP = NOW - timedelta(days=60)  # records opened, care teams formed
PUBLISHED = NOW - timedelta(hours=2)  # documents published (then changed a minute later)
LONG_AGO = NOW - timedelta(days=40)  # R13: hidden from the holder for over a month
BEFORE = NOW - timedelta(minutes=1)  # before the emergency declarations
DURING = NOW + timedelta(hours=1)  # every other persona acts now
AFTER = NOW + DEFAULT_EMERGENCY_DURATION + timedelta(minutes=1)  # R14: expired
CLIENT = "access-table"

# --- the two records --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rec:
    key: str
    ins: str


ALICE_REC = Rec("Alice", ALICE.ins)  # an adult
LEO_REC = Rec("Léo", LEO.ins)  # a minor (born 2015)
RECORDS = (ALICE_REC, LEO_REC)

LEO_PARENT = "parent-leo"  # Léo's legal representative (R3)
ALICE_FORMER_REP = "parent-alice"  # was Alice's representative; she came of age (R3)

# --- who acts ---------------------------------------------------------------------


class Relation(StrEnum):
    """What links a persona to a record: the facts, not their consequences."""

    HOLDER = "the adult holder"
    OTHER_PATIENT = "another patient"
    MINOR_HOLDER = "the minor holder himself"
    REPRESENTATIVE = "legal representative of the minor holder"
    FORMER_REPRESENTATIVE = "former representative of a holder who came of age"
    NOT_REPRESENTATIVE = "a representative, but not of this holder"
    AUTHORISED = "professional authorised by the holder"
    MEDECIN_TRAITANT = "médecin traitant"
    FULL_RIGHTS = "professional given the médecin traitant's rights"
    BLOCKED = "professional authorised, then blocked"
    UNAUTHORISED = "professional never authorised"
    EMERGENCY_BEFORE = "emergency professional, before declaring"
    EMERGENCY_DURING = "emergency professional, declaration in force"
    EMERGENCY_AFTER = "emergency professional, declaration expired"
    EMERGENCY_REFUSED = "emergency professional, kind refused in advance by the holder"
    INSURER_AGENT = "insurer agent"
    COMPLEMENTARY_INSURER = "complementary insurer"
    EMPLOYER = "employer"
    OCCUPATIONAL_DOCTOR = "occupational doctor"
    OPERATOR = "operator"
    ANONYMOUS = "anonymous caller"


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    actor: Actor
    relations: dict[str, Relation]  # record key -> relation; judged on these records
    at: datetime = DURING
    matrix_only: bool = False  # the sweep of the professions: reading is what R10 governs


def _rpps(n: int) -> str:
    return make_rpps(f"2{n:09d}")


def professional(rpps: str, profession: str = "10", organisation: str = PHARMACY) -> Actor:
    return Actor(Role.PROFESSIONAL, rpps, profession=profession, organisation=organisation)


ALICE_ME = Actor(Role.PATIENT, ALICE.ins)
LEO_ME = Actor(Role.PATIENT, LEO.ins)
BOB_ME = Actor(Role.PATIENT, BOB.ins)
PARENT = Actor(Role.REPRESENTATIVE, LEO_PARENT)
FORMER_PARENT = Actor(Role.REPRESENTATIVE, ALICE_FORMER_REP)
DR_BOB = professional(DR_BOB_RPPS)
DR_MT = professional(_rpps(1))
NURSE_FULL = professional(_rpps(2), "60")
BLOCKED = professional(_rpps(3))
STRANGER = professional(_rpps(4))
BRIS_DE_GLACE = professional(_rpps(5), organisation=make_finess("13000003"))
SAMU = professional(_rpps(6), organisation=make_finess("75000015"))


def _matrix() -> dict[str, dict[Category, str]]:
    """The shipped matrix, read from its CSV (data, not the code under test)."""
    text = (
        resources.files("dmp.domain").joinpath("data/authorisation_matrix.csv").read_text("utf-8")
    )
    return {
        row["profession"]: {c: row[c.value].strip().upper() for c in Category}
        for row in csv.DictReader(io.StringIO(text))
    }


MATRIX = _matrix()
# One authorised professional of every profession of the matrix (R8, R10); the
# pharmacist among them writes the dispensation (a médecin may only read it).
BY_PROFESSION = {code: professional(_rpps(100 + i), code) for i, code in enumerate(MATRIX)}
PHARMACIST = BY_PROFESSION["21"]

A, L = ALICE_REC.key, LEO_REC.key


def personas() -> list[Persona]:
    """Everyone on Alice's record. On Léo's: the minor and his representative (R3),
    the SAMU his representative refused in advance (R14), and to compare, Alice,
    Dr Bob, the médecin traitant and the bris de glace the refusal does not touch."""

    def on(*pairs: tuple[str, Relation]) -> dict[str, Relation]:
        return dict(pairs)

    def alice(relation: Relation) -> dict[str, Relation]:
        return {A: relation}

    return [
        Persona("Alice (patient)", ALICE_ME, on((A, Relation.HOLDER), (L, Relation.OTHER_PATIENT))),
        Persona("Bob (another patient)", BOB_ME, alice(Relation.OTHER_PATIENT)),
        Persona("Léo (minor)", LEO_ME, on((L, Relation.MINOR_HOLDER))),
        Persona(
            "Léo's parent (representative)",
            PARENT,
            on((A, Relation.NOT_REPRESENTATIVE), (L, Relation.REPRESENTATIVE)),
        ),
        Persona(
            "Alice's former representative", FORMER_PARENT, alice(Relation.FORMER_REPRESENTATIVE)
        ),
        Persona("Dr Bob (author)", DR_BOB, on((A, Relation.AUTHORISED), (L, Relation.AUTHORISED))),
        Persona(
            "médecin traitant",
            DR_MT,
            on((A, Relation.MEDECIN_TRAITANT), (L, Relation.MEDECIN_TRAITANT)),
        ),
        Persona("nurse with full rights", NURSE_FULL, alice(Relation.FULL_RIGHTS)),
        Persona("pharmacist (author)", PHARMACIST, alice(Relation.AUTHORISED)),
        *(
            Persona(f"profession {code}", actor, alice(Relation.AUTHORISED), matrix_only=True)
            for code, actor in BY_PROFESSION.items()
            if actor is not PHARMACIST
        ),
        Persona("blocked professional", BLOCKED, alice(Relation.BLOCKED)),
        Persona("unauthorised professional", STRANGER, alice(Relation.UNAUTHORISED)),
        Persona("bris de glace, before", BRIS_DE_GLACE, alice(Relation.EMERGENCY_BEFORE), BEFORE),
        Persona(
            "bris de glace, during",
            BRIS_DE_GLACE,
            on((A, Relation.EMERGENCY_DURING), (L, Relation.EMERGENCY_DURING)),
        ),
        Persona("bris de glace, after", BRIS_DE_GLACE, alice(Relation.EMERGENCY_AFTER), AFTER),
        Persona("SAMU, before", SAMU, alice(Relation.EMERGENCY_BEFORE), BEFORE),
        Persona(  # Léo's representative refused SAMU access in advance, not bris de glace
            "SAMU, during",
            SAMU,
            on((A, Relation.EMERGENCY_DURING), (L, Relation.EMERGENCY_REFUSED)),
        ),
        Persona("SAMU, after", SAMU, alice(Relation.EMERGENCY_AFTER), AFTER),
        Persona(
            "insurer agent",
            Actor(Role.INSURER_AGENT, "agent-751A01"),
            alice(Relation.INSURER_AGENT),
        ),
        Persona(
            "complementary insurer",
            Actor(Role.COMPLEMENTARY_INSURER, "mutuelle-1"),
            alice(Relation.COMPLEMENTARY_INSURER),
        ),
        Persona("employer", Actor(Role.EMPLOYER, "employer-1"), alice(Relation.EMPLOYER)),
        Persona(
            "occupational doctor",
            Actor(Role.OCCUPATIONAL_DOCTOR, _rpps(7), profession="10"),
            alice(Relation.OCCUPATIONAL_DOCTOR),
        ),
        Persona("operator", Actor(Role.OPERATOR, "operator-1"), alice(Relation.OPERATOR)),
        Persona("anonymous", ANONYMOUS, alice(Relation.ANONYMOUS)),
    ]


# --- the documents ----------------------------------------------------------------


class State(StrEnum):
    NORMAL = "normal"
    MASKED = "masked by the holder"
    HIDDEN_FRESH = "hidden from the holder (< 1 month)"
    HIDDEN_OLD = "hidden from the holder (≥ 1 month)"
    HIDDEN_FROM_REPS = "hidden from the representatives"
    DELETED = "deleted by its author"
    SUPERSEDED = "superseded"
    REPLACEMENT = "current version replacing another"
    ARCHIVED = "archived"


PRO_STATES = tuple(State)
DEPOSIT_STATES = (  # hiding from the holder is for professionals (R13)
    State.NORMAL,
    State.MASKED,
    State.DELETED,
    State.SUPERSEDED,
    State.REPLACEMENT,
    State.ARCHIVED,
)
TYPE_OF = {
    Category.COMPTE_RENDU: "11488-4",
    Category.SYNTHESE: "34133-9",
    Category.IMAGERIE: "18748-4",
    Category.PRESCRIPTION: "57833-6",
    Category.DISPENSATION: "60593-1",
    Category.PLAN_DE_SOINS: "18776-5",
    Category.TRAITEMENT_ADMINISTRE: "80565-5",
    Category.CERTIFICAT: "89601-9",
    Category.DEPOSE_PAR_PATIENT: "42348-3",
    Category.GESTION: "FICHE-CONTACTS",
}
# Every state of these series: (record, category, author). A dispensation is written by
# the pharmacist: the matrix gives a médecin only reading (R10).
SERIES = (
    (ALICE_REC, Category.COMPTE_RENDU, DR_BOB, PRO_STATES),
    (ALICE_REC, Category.DISPENSATION, PHARMACIST, PRO_STATES),
    (ALICE_REC, Category.DEPOSE_PAR_PATIENT, ALICE_ME, DEPOSIT_STATES),
    (LEO_REC, Category.COMPTE_RENDU, DR_BOB, PRO_STATES),
    (LEO_REC, Category.DEPOSE_PAR_PATIENT, PARENT, DEPOSIT_STATES),
)
# The other categories once, normal, on Alice's record: the matrix sweep (R10). All but
# REMBOURSEMENT, which no profession writes (the insurer's feed brings it).
SWEEP = {
    Category.SYNTHESE: DR_BOB,
    Category.IMAGERIE: DR_BOB,
    Category.PRESCRIPTION: DR_BOB,
    Category.PLAN_DE_SOINS: DR_BOB,
    Category.TRAITEMENT_ADMINISTRE: DR_BOB,
    Category.CERTIFICAT: DR_BOB,
    Category.GESTION: DR_BOB,
}


@dataclass(frozen=True, slots=True)
class Doc:
    id: str
    rec: Rec
    category: Category
    state: State
    author: Actor
    sha256: str
    sweep: bool = False  # one of the matrix sweep's documents

    def label(self) -> str:
        return f"{self.rec.key}'s {self.category} {self.state}"


class Act(StrEnum):
    FIND = "find"
    READ = "read metadata"
    RETRIEVE = "retrieve bytes"
    DELETE = "delete"
    ARCHIVE = "archive"
    MASK = "mask"
    HIDE = "hide from the holder"


CHANGES = (Act.DELETE, Act.ARCHIVE, Act.MASK, Act.HIDE)

# --- the ORACLE: the rules, written from RULES.md, not from domain/access.py --------

OK = "ok"  # done (a search: in the page and counted)
ABSENT = "absent (DOCUMENT_NOT_FOUND)"  # what an unknown document id gives


class Standing(Enum):
    NONE = "nothing"
    HOLDER = "the holder's rights"
    REPRESENTATIVE = "the holder's rights, through a representative"
    PROFESSIONAL = "a professional's access"
    FULL = "the médecin traitant's access"


STANDING: dict[Relation, tuple[Standing, str]] = {
    Relation.HOLDER: (Standing.HOLDER, "R5: the holder's own record"),
    Relation.OTHER_PATIENT: (Standing.NONE, "R8: another person's record"),
    Relation.MINOR_HOLDER: (Standing.NONE, "R3: a minor's rights are the representatives'"),
    Relation.REPRESENTATIVE: (Standing.REPRESENTATIVE, "R3: representatives exercise them"),
    Relation.FORMER_REPRESENTATIVE: (Standing.NONE, "R3: the representatives' rights end at 18"),
    Relation.NOT_REPRESENTATIVE: (Standing.NONE, "R3: not this holder's representative"),
    Relation.AUTHORISED: (Standing.PROFESSIONAL, "R8: authorised by the holder"),
    Relation.MEDECIN_TRAITANT: (Standing.FULL, "R11: the médecin traitant"),
    Relation.FULL_RIGHTS: (Standing.FULL, "R11: given the médecin traitant's rights"),
    Relation.BLOCKED: (Standing.NONE, "R9: blocked, with or without consent"),
    Relation.UNAUTHORISED: (Standing.NONE, "R8: needs the holder's consent"),
    Relation.EMERGENCY_BEFORE: (Standing.NONE, "R8, R14: no emergency declared yet"),
    Relation.EMERGENCY_DURING: (Standing.PROFESSIONAL, "R14: emergency access in force"),
    Relation.EMERGENCY_AFTER: (Standing.NONE, "R14: emergency access is time-limited"),
    Relation.EMERGENCY_REFUSED: (Standing.NONE, "R14: the holder refused it in advance"),
    Relation.INSURER_AGENT: (Standing.NONE, "R15: the insurer never reads medical content"),
    Relation.COMPLEMENTARY_INSURER: (Standing.NONE, "R15: never, for any insurance contract"),
    Relation.EMPLOYER: (Standing.NONE, "R15: never, for employment"),
    Relation.OCCUPATIONAL_DOCTOR: (Standing.NONE, "R15 (issue 3): never reads content"),
    Relation.OPERATOR: (Standing.NONE, "R15 (issue 3): operators never read content"),
    Relation.ANONYMOUS: (Standing.NONE, "R15: nobody unidentified"),
}
HOLDERS = (Standing.HOLDER, Standing.REPRESENTATIVE)
PROFESSIONALS = (Standing.PROFESSIONAL, Standing.FULL)


def sees(p: Persona, doc: Doc) -> tuple[bool, str]:
    """May `p` know of `doc` at all: find it, read its metadata, retrieve its bytes?"""
    standing, why = STANDING[p.relations[doc.rec.key]]
    if standing is Standing.NONE:
        return False, why
    if doc.state is State.DELETED:
        return doc.author.id == p.actor.id, "R7: a deleted document is shown to its author only"
    if standing in HOLDERS:
        if doc.state is State.HIDDEN_FRESH:
            return False, "R13: hidden from the holder, less than a month ago"
        if standing is Standing.REPRESENTATIVE and doc.state is State.HIDDEN_FROM_REPS:
            return False, "R3: hidden from the legal representatives"
        if doc.state is State.HIDDEN_OLD:
            return True, "R13: visible to the holder automatically after a month"
        return True, f"{why}; R12: masking hides from professionals only"
    if doc.author.id == p.actor.id:
        return True, "R12: the author still sees their document"
    if standing is Standing.FULL:
        return True, "R11: the médecin traitant sees all, masked documents included"
    if doc.state is State.MASKED:
        return False, "R12: masked by the holder (R14: also in an emergency)"
    cell = MATRIX[p.actor.profession or ""][doc.category]
    return cell in ("R", "RW"), f"R10: matrix {p.actor.profession} × {doc.category} = {cell}"


def may_change(p: Persona, doc: Doc, act: Act) -> tuple[bool, str]:
    """May `p` make this change (judged only if they may see the document)?"""
    standing, _ = STANDING[p.relations[doc.rec.key]]
    author = doc.author.id == p.actor.id
    if act in (Act.DELETE, Act.ARCHIVE):
        return author, "R7: only the author deletes or archives a document"
    if act is Act.MASK:
        return standing in HOLDERS, "R12: masking is the holder's choice"
    return author and standing in PROFESSIONALS, "R13: the author (a professional) hides it"


def expected(p: Persona, doc: Doc, act: Act) -> tuple[str, str]:
    """The outcome the rules call for, and the rule that decides it."""
    visible, why = sees(p, doc)
    if act not in CHANGES:
        return (OK if visible else ABSENT), why
    if not visible:
        return ABSENT, why  # STYLE habit 3: a change to what one may not see looks absent
    allowed, why = may_change(p, doc, act)
    if not allowed:
        return ABSENT, why
    if doc.state is State.DELETED:
        return "DOCUMENT_DELETED", "R7: deletion is final; a deleted document does not change"
    if act is Act.HIDE and doc.state is State.MASKED:
        return "FLAGS_INCOMPATIBLE", "R13: not both hidden from the holder and masked"
    # Masking a document hidden from the holder over a month ago: R13 made it visible to
    # the holder, so it is no longer "invisible to the holder" and R12 lets them mask it.
    return OK, why


# --- building the world through the services ---------------------------------------


def as_(actor: Actor, now: datetime) -> Ctx:
    return Ctx(actor, now, CLIENT)


@dataclass
class World:
    db: Database
    vault: Vault
    docs: list[Doc] = field(default_factory=list)
    snapshot: dict[str, Document] = field(default_factory=dict)  # as built, by id


def _publish(
    w: World,
    actor: Actor,
    rec: Rec,
    category: Category,
    *,
    now: datetime = PUBLISHED,
    visibility: Visibility | None = None,
    replaces: str | None = None,
) -> Document:
    master = f"urn:uuid:{uuid.uuid4()}"
    data = make_pdf(f"{category} for {rec.key}", [master])
    new = NewDocument(
        master,
        TYPE_OF[category],
        None,
        "application/pdf",
        data,
        now,
        visibility=visibility or Visibility(),
        replaces=replaces,
    )
    sub = Submission(rec.ins, f"urn:uuid:{uuid.uuid4()}", (new,))
    return publish(w.db, w.vault, as_(actor, now), sub)[0].document


def _keep(w: World, doc: Document, rec: Rec, state: State, author: Actor) -> None:
    sweep = doc.category in SWEEP
    w.docs.append(Doc(doc.id, rec, doc.category, state, author, doc.sha256, sweep))


def _in_state(w: World, rec: Rec, category: Category, state: State, author: Actor) -> None:
    """Publish one document and bring it to `state` as the rules say it gets there."""
    holder = ALICE_ME if rec is ALICE_REC else PARENT  # who masks (R12, R3)
    later = PUBLISHED + timedelta(minutes=1)
    if state is State.REPLACEMENT:
        return  # made with its SUPERSEDED predecessor
    if state is State.HIDDEN_FRESH:
        doc = _publish(w, author, rec, category, visibility=Visibility(hidden_from_patient=True))
    elif state is State.HIDDEN_OLD:
        hidden = Visibility(hidden_from_patient=True)
        doc = _publish(w, author, rec, category, now=LONG_AGO, visibility=hidden)
    elif state is State.HIDDEN_FROM_REPS:
        hidden = Visibility(hidden_from_representatives=True)
        doc = _publish(w, author, rec, category, visibility=hidden)
    else:
        doc = _publish(w, author, rec, category)
    if state is State.MASKED:
        doc = set_flags(w.db, as_(holder, later), doc.id, frozenset({Flag.MASKED}))
    elif state is State.DELETED:
        doc = _by_author(w, author, doc, delete, lambda c: delete_document(w.db, c, doc.id))
    elif state is State.ARCHIVED:
        doc = _by_author(
            w,
            author,
            doc,
            lambda d: set_archived(d, True),
            lambda c: archive_document(w.db, c, doc.id, True),
        )
    elif state is State.SUPERSEDED:
        newer = _publish(w, author, rec, category, now=later, replaces=doc.id)
        _keep(w, newer, rec, State.REPLACEMENT, author)
    _keep(w, doc, rec, state, author)


def _by_author(
    w: World,
    author: Actor,
    doc: Document,
    change: Callable[[Document], Document],
    service: Callable[[Ctx], Document],
) -> Document:
    """The author's change through the service. The service refuses a representative
    deleting or archiving the deposit they made (the table reports it: R3, R7); the
    state is then reached in storage, so that its cells stay in the table."""
    try:
        return service(as_(author, PUBLISHED + timedelta(minutes=1)))
    except NotFound:
        if author.role is not Role.REPRESENTATIVE:
            raise
    after = change(doc)
    with w.db.write() as conn:
        stored_documents.save_state(conn, after)
    return after


def build(db: Database, tmp_path: Path) -> World:
    vault = Vault(
        FileBlobStore(tmp_path / "blobs"),
        load_master_key(key_b64="", key_file=None, mode="dev", data_dir=tmp_path),
    )
    w = World(db, vault)
    registry = [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY]
    load_beneficiaries_batch(db, system_ctx(SETUP), registry, "test")
    for rec, given_by in ((ALICE_REC, "holder"), (LEO_REC, "legal_representative")):
        request = records.OpenRequest(rec.ins, "pharmacy", PHARMACY, given_by, True)
        records.open_record(db, system_ctx(SETUP), request)
    with db.write() as conn:
        conn.execute(
            insert(representative),
            [
                {"ins": LEO.ins, "representative": LEO_PARENT, "name": "Durand", "since": SETUP},
                # Alice's parent, listed when she was a minor: she is an adult now.
                {"ins": ALICE.ins, "representative": ALICE_FORMER_REP, "name": "M", "since": SETUP},
            ],
        )
    _form_care_teams(db)
    for rec, category, author, states in SERIES:
        for state in states:
            _in_state(w, rec, category, state, author)
    for category, author in SWEEP.items():
        _in_state(w, ALICE_REC, category, State.NORMAL, author)
    with db.read() as conn:
        found = stored_documents.find_documents(conn, [d.id for d in w.docs])
    w.snapshot = dict(found)
    assert len(w.snapshot) == len(w.docs)
    return w


def _form_care_teams(db: Database) -> None:
    alice, parent = as_(ALICE_ME, SETUP), as_(PARENT, SETUP)
    change = care_team.change_professional
    for ctx, ins in ((alice, ALICE.ins), (parent, LEO.ins)):
        change(db, ctx, ins, DR_BOB.id, "authorise")  # R8
        change(db, ctx, ins, DR_MT.id, "medecin_traitant")  # R11
    change(db, alice, ALICE.ins, NURSE_FULL.id, "grant_full_rights")  # R11
    for actor in BY_PROFESSION.values():
        change(db, alice, ALICE.ins, actor.id, "authorise")  # R8, R10
    change(db, alice, ALICE.ins, BLOCKED.id, "authorise")
    change(db, alice, ALICE.ins, BLOCKED.id, "block")  # R9
    care_team.set_emergency_choices(db, parent, LEO.ins, False, True)  # R14: no SAMU for Léo
    for actor, kind, rec in (
        (BRIS_DE_GLACE, "bris_de_glace", ALICE_REC),
        (BRIS_DE_GLACE, "bris_de_glace", LEO_REC),
        (SAMU, "samu", ALICE_REC),
    ):
        care_team.declare_emergency(db, as_(actor, NOW), rec.ins, kind, "unconscious, no relative")
    with pytest.raises(NotFound):  # R14: refused in advance
        care_team.declare_emergency(db, as_(SAMU, NOW), LEO.ins, "samu", "regulation call")


# --- running the table --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    persona: Persona
    doc: Doc
    act: Act
    actual: str
    message: str = ""  # the refusal's message, which the API sends too


def _everything(ins: str) -> DocumentQuery:
    """Every status, archived documents and all dates: only the policy filters."""
    return DocumentQuery(
        ins=ins,
        statuses=frozenset(DocumentStatus),
        include_archived=True,
        date_from=datetime(2000, 1, 1, tzinfo=UTC),
        count=MAX_PAGE,
    )


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except NotFound as exc:
        if (exc.code, exc.field) == ("DOCUMENT_NOT_FOUND", "id"):
            return ABSENT, exc.message
        return f"NotFound {exc.code} ({exc.field})", exc.message
    except DomainError as exc:
        return exc.code, exc.message
    return OK, ""


def _attempt(w: World, p: Persona, doc: Doc, act: Act) -> Cell:
    ctx = as_(p.actor, p.at)
    if act is Act.READ:

        def call() -> object:
            got = read_document(w.db, ctx, doc.id)
            assert got.id == doc.id
            return got

    elif act is Act.RETRIEVE:

        def call() -> object:
            _, data = retrieve(w.db, w.vault, ctx, doc.id)
            assert hashlib.sha256(data).hexdigest() == doc.sha256
            return data

    elif act is Act.DELETE:

        def call() -> object:
            return delete_document(w.db, ctx, doc.id)

    elif act is Act.ARCHIVE:

        def call() -> object:
            return archive_document(w.db, ctx, doc.id, True)

    else:
        # What a client sends: the flags it knows of, plus the one it asks for.
        wanted = Flag.MASKED if act is Act.MASK else Flag.HIDDEN_FROM_PATIENT
        flags = w.snapshot[doc.id].visibility.flags | {wanted}

        def call() -> object:
            return set_flags(w.db, ctx, doc.id, flags)

    actual, message = _outcome(call)
    if act in CHANGES and actual == OK:
        with w.db.write() as conn:  # undo: the next cell sees the world as built
            stored_documents.save_state(conn, w.snapshot[doc.id])
    return Cell(p, doc, act, actual, message)


def run_table(w: World, people: Iterable[Persona]) -> tuple[list[Cell], list[str]]:
    """Every cell's actual outcome, and what is wrong with the searches as a whole."""
    cells: list[Cell] = []
    problems: list[str] = []
    nobody = find(w.db, as_(STRANGER, DURING), _everything(ZOE.ins))  # no record at all
    assert nobody == Page((), 0)
    for p in people:
        for rec in RECORDS:
            if rec.key not in p.relations:
                continue
            docs = [d for d in w.docs if d.rec is rec]
            page = find(w.db, as_(p.actor, p.at), _everything(rec.ins))
            found = {d.id for d in page.documents}
            if page.total != len(page.documents) or len(found) != len(page.documents):
                problems.append(f"{p.name} on {rec.key}: total {page.total} for {len(found)}")
            if not found and page != nobody:
                problems.append(f"{p.name} on {rec.key}: an empty search is not {nobody}")
            for doc in docs:
                cells.append(Cell(p, doc, Act.FIND, OK if doc.id in found else ABSENT))
                cells.extend(_attempt(w, p, doc, act) for act in acts(p, doc))
    return cells, problems


def acts(p: Persona, doc: Doc) -> tuple[Act, ...]:
    """The cells run beyond the search, which judges every document for everyone.

    Each call costs milliseconds, so cells that would only repeat others are left out:
    - a replacement is a current document like the normal one;
    - the matrix sweep (one professional of each profession, and one document of each
      other category) is about reading (R10): its professionals read and retrieve the
      normal documents; they change nothing, as changes are the author's and the
      holder's whatever the profession (R7, R12, R13) — the pharmacist, an author,
      is in the full table;
    - those with no standing on the record (R3, R8, R9, R14, R15) are refused before
      any document is looked at: the compte-rendu and deposit series suffice, the
      dispensations differ only by category and author.
    """
    if doc.state is State.REPLACEMENT:
        return ()
    if p.matrix_only:
        return (Act.READ, Act.RETRIEVE) if doc.state is State.NORMAL else ()
    if doc.sweep:
        return ()
    standing, _ = STANDING[p.relations[doc.rec.key]]
    if standing is Standing.NONE and doc.category is Category.DISPENSATION:
        return ()
    return tuple(a for a in Act if a is not Act.FIND)


def _mismatches(cells: Iterable[Cell]) -> list[str]:
    """One line per (action, document, expected, actual), naming the personas."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    rules: dict[tuple[str, str, str, str], set[str]] = {}
    for c in cells:
        want, why = expected(c.persona, c.doc, c.act)
        if c.actual != want:
            key = (c.act.value, c.doc.label(), want, c.actual)
            groups.setdefault(key, []).append(c.persona.name)
            rules.setdefault(key, set()).add(why)
    lines = []
    for key, names in sorted(groups.items()):
        act, label, want, actual = key
        why = sorted(rules[key])
        because = " / ".join(why) if len(why) <= 2 else "rules vary by persona: see `expected`"
        lines.append(
            f"{act} | {label} | expected {want}, got {actual} | {because} | "
            f"{len(names)} persona(s): {', '.join(names)}"
        )
    return lines


def _refusals_naming_the_record(cells: Iterable[Cell]) -> list[str]:
    """A refusal tells no more than absence would (STYLE habit 3): a caller with no
    standing on the record who holds a document id must not learn whose record it is
    in — the holder's INS is their social-security number (NIR)."""
    named: Counter[Act] = Counter()
    example: dict[Act, str] = {}
    for c in cells:
        outsider = STANDING[c.persona.relations[c.doc.rec.key]][0] is Standing.NONE
        if outsider and c.actual == ABSENT and c.doc.rec.ins in c.message:
            named[c.act] += 1
            example.setdefault(c.act, f"{c.persona.name} on {c.doc.label()}: {c.message!r}")
    return [
        f"refused {act}: the error names the record's INS in {n} cells, e.g. {example[act]}"
        for act, n in sorted(named.items())
    ]


# --- the audit trail: every refusal is a DENIED event naming the actor (R16) --------

_AUDITED = {
    Act.READ: ("document.read", False),
    Act.RETRIEVE: ("document.read", True),
    Act.DELETE: ("document.delete", None),
    Act.ARCHIVE: ("document.archive", None),
    Act.MASK: ("document.mask", None),
    Act.HIDE: ("document.hide", None),
}


AuditKey = tuple[str, str, str, object]  # actor, audited action, document (or INS), content


def _unaudited_refusals(db: Database, cells: list[Cell]) -> tuple[list[str], int]:
    """The refusals without a DENIED event of their own, and how many were checked.

    Each event accounts for one refusal: the emergency personas are one actor at three
    moments. A refused search is one event for the persona and record, however many
    documents it hid.
    """
    events: Counter[AuditKey] = Counter()
    with db.read() as conn:
        rows = conn.scalars(select(audit_event.c.event).where(audit_event.c.outcome == "denied"))
        for body in rows:
            e = json.loads(body)
            detail = e.get("detail") or {}
            if e["action"] == "document.search":
                events[(e["actor_id"], e["action"], e["record_ins"], None)] += 1
            elif "document" in detail:
                content = detail.get("content") if e["action"] == "document.read" else None
                events[(e["actor_id"], e["action"], detail["document"], content)] += 1
    wanted: dict[tuple[str, AuditKey], str] = {}  # (persona, key) -> what was refused
    for c in cells:
        who = c.persona.actor.id
        if c.actual != ABSENT:
            continue
        if c.act is Act.FIND:
            if STANDING[c.persona.relations[c.doc.rec.key]][0] is Standing.NONE:
                key: AuditKey = (who, "document.search", c.doc.rec.ins, None)
                wanted[c.persona.name, key] = f"{c.persona.name} | search of {c.doc.rec.key}"
            continue
        action, content = _AUDITED[c.act]
        key = (who, action, c.doc.id, content)
        wanted[c.persona.name, key] = f"{c.persona.name} | {c.doc.label()} | {c.act}"
    missing = []
    for (_, key), what in wanted.items():
        if events[key] > 0:
            events[key] -= 1
        else:
            missing.append(f"{what}: refused, but no DENIED event in the audit trail")
    return sorted(missing), len(wanted)


# --- the test -----------------------------------------------------------------------


def _without_fsync(db: Database) -> None:
    """A throwaway database need not survive a power cut: on SQLite, commit without
    fsync (WAL, synchronous=NORMAL). The table makes thousands of commits."""
    if db.is_sqlite:

        @event.listens_for(db.engine, "connect")
        def _relax(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous = NORMAL")

        db.engine.dispose()


def test_r3_r7_to_r15_no_persona_sees_or_changes_more_than_the_rules_allow(
    db: Database, tmp_path: Path
) -> None:
    """Issue 3: persona × document state × action, zero leaks, refusals audited (R16)."""
    _without_fsync(db)
    world = build(db, tmp_path)
    people = personas()
    cells, problems = run_table(world, people)
    wrong = _mismatches(cells)
    problems += _refusals_naming_the_record(cells)
    with db.read() as conn:
        after = stored_documents.find_documents(conn, list(world.snapshot))
    problems += [
        f"{d.id}: left changed by the table" for d in after.values() if d != world.snapshot[d.id]
    ]
    unaudited, refusals = _unaudited_refusals(db, cells)
    assert refusals > 1000  # the trail is checked for every refusal, not a token few
    report = [
        f"{len(cells)} cells ({len(people)} personas, {len(world.docs)} documents, "
        f"{len(Act)} actions): {len(wrong)} groups of cells disagree with the rules; "
        f"{len(problems)} other leaks; {len(unaudited)} of {refusals} refusals not audited",
        *wrong,
        *problems,
        *unaudited,
    ]
    assert not [*wrong, *problems, *unaudited], "\n".join(report)
