"""Documents: publish (ITI-65), find (ITI-67), retrieve (ITI-68) and their lifecycle
(RULES R6, R7, R12, R13, R20, R21), every access through the guard.

Publishing is all or nothing and survives a crash at any point:
1. every document is checked (type, bytes against the declared MIME type) without
   touching the database; all errors are reported together;
2. a read-only transaction peeks at the policy (nothing is written for a caller who
   would be refused), resolves resends and replacements and reads the record's data
   key; a record without one (its first document) gets a new key, made here;
3. the bytes are sealed with the record's key and written to the blob store under a
   key that carries the hour they were written (`d/<YYYYMMDDHH>/<uuid>`);
4. the traced transaction decides again and stores the metadata, and the new key if
   one was made (if a concurrent first document of the record stored its own key first,
   steps 2–4 run again with that key). A failure removes what step 3 wrote; after a crash,
   `dmp fsck` lists the recent hours of the store and removes the bytes no document
   refers to. No half-document is ever visible.

One commit per publish: the figure that bounds throughput on SQLite's single writer.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from dmp.domain.access import HIDDEN_FROM_PATIENT_AT_MOST, Action
from dmp.domain.actors import Role
from dmp.domain.audit import AuditAction, Outcome
from dmp.domain.content import Content, check_content
from dmp.domain.document_types import DocumentType, document_type
from dmp.domain.documents import (
    AWAITING_NOTICE_AFTER,
    Author,
    Document,
    DocumentQuery,
    DocumentStatus,
    Flag,
    NewDocument,
    Submission,
    check_replaceable,
    check_resend,
    check_submission,
    delete,
    flag_change,
    is_awaiting_announcement,
    matches,
    set_archived,
    sort_key,
)
from dmp.domain.errors import Conflict, DomainError, NotFound, Refused, SeveralErrors
from dmp.domain.time import local_date
from dmp.services import guard, notifications
from dmp.services.context import Ctx
from dmp.services.trail import failures_traced, trace
from dmp.storage import beneficiaries, documents, keyring
from dmp.storage.blobs import BlobMissing, BlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import MasterKey, SealBroken, new_data_key, open_sealed, seal

DEFAULT_MAX_SIZE = 20 * 1024 * 1024  # issue 4: 20 MB unless configured
# Bytes older than fsck's threshold (15 min) with no document are a crash's leftovers;
# a publish slower than this (from its start to its commit's locks) gives up rather than
# refer to bytes fsck may remove.
WRITE_DEADLINE = timedelta(minutes=5)


def blob_key(now: datetime, document_id: str) -> str:
    """Where a document's bytes go: under the hour they are written, so that fsck finds
    a crash's leftovers by listing the recent hours only (services/fsck.py)."""
    return f"d/{now.astimezone(UTC):%Y%m%d%H}/{document_id}"


@dataclass(frozen=True, slots=True)
class Vault:
    """Where documents' bytes go: the blob store, sealed under the record's data key."""

    store: BlobStore
    master: MasterKey
    max_size: int = DEFAULT_MAX_SIZE


@dataclass(frozen=True, slots=True)
class Stored:
    """The outcome of one submitted document: stored now, or already (a resend)."""

    document: Document
    created: bool


@dataclass(frozen=True, slots=True)
class Page:
    documents: tuple[Document, ...]
    total: int  # what the caller may see, never more


@dataclass(frozen=True, slots=True)
class _Checked:
    new: NewDocument
    type: DocumentType
    content: Content


# --- publish (ITI-65) ---


def publish(db: Database, vault: Vault, ctx: Ctx, sub: Submission) -> list[Stored]:
    """Store every document of `sub`, or none; resends of stored documents are no-ops.

    Errors come back together (SeveralErrors), each naming its entry. A caller the
    policy refuses gets RECORD_NOT_FOUND, like a record that does not exist.
    """
    started = time.monotonic()  # before the blob keys take the hour (in _prepare)
    # A refusal by the policy is traced by the guard; any other failure, here.
    traced: dict[str, object] = {"submission_set": sub.submission_set}
    with failures_traced(db, ctx, AuditAction.DOCUMENT_WRITE, sub.ins, traced):
        checked = _check_all(vault, sub)
        for attempt in (1, 2):
            plan = _prepare(db, ctx, vault, sub, checked)
            try:
                for item in plan.to_write:
                    sealed = _seal(plan.key, item.document, item.data)
                    vault.store.put(item.document.blob_key, sealed)
                return _commit(db, ctx, vault, sub, checked, plan, started)
            except _KeyedMeanwhile:
                # Sealed with a key the record will not keep: sealed again with the
                # one it now has (the second attempt finds it, so never needs a third).
                _discard(vault.store, [i.document.blob_key for i in plan.to_write])
                if attempt == 2:
                    raise Conflict(
                        "RETRY", "the record changed meanwhile; send the bundle again"
                    ) from None
            except BaseException:
                _discard(vault.store, [i.document.blob_key for i in plan.to_write])
                raise
    raise AssertionError("unreachable: the second attempt returns or raises")


class _KeyedMeanwhile(Exception):
    """The record's first documents, sent at once: another stored the record's data key
    between this one's reading that it had none and its commit."""


def _check_all(vault: Vault, sub: Submission) -> list[_Checked]:
    errors: list[DomainError] = list(check_submission(sub))
    checked: list[_Checked] = []
    for new in sub.documents:
        try:
            doc_type = document_type(new.type_code, f"{new.path}.type")
            content = check_content(
                new.declared_mime, new.data, max_size=vault.max_size, field=new.content_path
            )
        except DomainError as exc:
            errors.append(exc)
            continue
        checked.append(_Checked(new, doc_type, content))
    if errors:
        raise SeveralErrors(errors)
    return checked


@dataclass(frozen=True, slots=True)
class _ToWrite:
    document: Document
    data: bytes


@dataclass(frozen=True, slots=True)
class _Plan:
    key: bytes
    new_key: bool  # made for the record's first document, stored with it
    to_write: tuple[_ToWrite, ...]
    resent: dict[str, Document]  # by master identifier


def _prepare(
    db: Database, ctx: Ctx, vault: Vault, sub: Submission, checked: list[_Checked]
) -> _Plan:
    key: bytes | None = None
    errors: list[DomainError] = []
    resent: dict[str, Document] = {}
    replaced: dict[str, Document] = {}
    with db.read() as conn:
        access = guard.peek(
            conn, ctx, Action.WRITE_DOCUMENT, sub.ins, category=checked[0].type.category
        )
        if access is None or not all(
            access.judge(ctx, Action.WRITE_DOCUMENT, category=c.type.category) for c in checked
        ):
            access = None
        else:
            errors, resent, replaced = _resolve(conn, ctx, sub.ins, checked)
            key = keyring.existing_data_key(conn, sub.ins, vault.master)
    if access is None:
        _refuse(db, ctx, sub, checked)
    if errors:
        raise SeveralErrors(errors)
    # The record's first document: its key is stored with it, in the traced transaction
    # (a write transaction of its own cost a commit, and on SQLite a turn of its writer).
    new_key = key is None
    to_write = tuple(
        _ToWrite(_document(sub, c, ctx, replaced), c.new.data)
        for c in checked
        if c.new.master_identifier not in resent
    )
    return _Plan(key or new_data_key(), new_key and bool(to_write), to_write, resent)


def _resolve(
    conn: Connection, ctx: Ctx, ins: str, checked: Sequence[_Checked]
) -> tuple[list[DomainError], dict[str, Document], dict[str, Document]]:
    """Resends (R6), replacements (R7) and the INS qualification (R1) of a submission."""
    errors: list[DomainError] = []
    if beneficiaries.find_beneficiary(conn, ins) is None:
        # R1: since 2023 nothing is added to a record whose INS is not qualified; the
        # insurer's registry is our authority on qualified identities.
        errors.append(
            Refused(
                "INS_NOT_QUALIFIED",
                "the record's INS is not a qualified identity of the insurer's registry; "
                "it accepts no new document",
                "Bundle.entry.resource.subject",
            )
        )
    stored = documents.find_by_master_identifiers(conn, [c.new.master_identifier for c in checked])
    replaced = documents.find_documents(conn, [c.new.replaces for c in checked if c.new.replaces])
    resent: dict[str, Document] = {}
    author = _author(ctx, None)
    for c in checked:
        new = c.new
        try:
            previous = stored.get(new.master_identifier)
            if previous is not None:
                check_resend(
                    previous,
                    ins,
                    c.content.sha256,
                    c.type.loinc,
                    f"{new.path}.masterIdentifier",
                )
                resent[new.master_identifier] = previous
                continue
            if new.replaces:
                old = replaced.get(new.replaces)
                field = f"{new.path}.relatesTo[0].target"
                if old is None:
                    raise NotFound(
                        "REPLACED_NOT_FOUND", f"no document {new.replaces} to replace", field
                    )
                check_replaceable(old, ins, author.id, field)
        except DomainError as exc:
            errors.append(exc)
    return errors, resent, replaced


class _PartlyRefused(Exception):
    """The guard allowed the first category of a submission, the policy refuses another."""


def _refuse(db: Database, ctx: Ctx, sub: Submission, checked: list[_Checked]) -> None:
    """Trace the refusal through the guard, which raises RECORD_NOT_FOUND."""
    categories = sorted({c.type.category.value for c in checked})
    try:
        with guard.guarded(
            db,
            ctx,
            Action.WRITE_DOCUMENT,
            sub.ins,
            category=checked[0].type.category,
            detail={"categories": categories, "documents": len(checked)},
        ) as (_, access):
            if all(
                access.judge(ctx, Action.WRITE_DOCUMENT, category=c.type.category) for c in checked
            ):
                # The policy changed between the peek and now: the caller resends.
                raise Conflict("RETRY", "the record changed meanwhile; send the bundle again")
            # Another category is refused: roll back the first one's "allowed" trace.
            raise _PartlyRefused
    except _PartlyRefused:
        pass
    with db.write() as conn:
        trace(
            conn,
            ctx,
            AuditAction.DOCUMENT_WRITE,
            outcome=Outcome.DENIED,
            record_ins=sub.ins,
            reason="R10: a category of the submission is not writable by this profession",
            detail={"categories": categories},
        )
    raise NotFound("RECORD_NOT_FOUND", f"no record for {sub.ins}", "ins")


def _commit(
    db: Database,
    ctx: Ctx,
    vault: Vault,
    sub: Submission,
    checked: list[_Checked],
    plan: _Plan,
    started: float,
) -> list[Stored]:
    new_docs = [w.document for w in plan.to_write]
    detail: dict[str, object] = {
        "submission_set": sub.submission_set,
        "stored": [d.id for d in new_docs],
        "types": sorted({d.type_code for d in new_docs}),
        "resent": sorted(d.id for d in plan.resent.values()),
        "replaced": sorted(d.replaces for d in new_docs if d.replaces),
    }
    with guard.guarded(
        db,
        ctx,
        Action.WRITE_DOCUMENT,
        sub.ins,
        category=checked[0].type.category,
        detail=detail,
    ) as (conn, access):
        if not all(
            access.judge(ctx, Action.WRITE_DOCUMENT, category=c.type.category) for c in checked
        ):
            raise Conflict("RETRY", "the record changed meanwhile; send the bundle again")
        if time.monotonic() - started > WRITE_DEADLINE.total_seconds():
            # Checked once the transaction holds its locks, just before the rows go
            # in: fsck may take bytes this old for a crash's leftovers.
            raise Conflict("RETRY", "storing the documents took too long; send them again")
        if plan.new_key and not keyring.add_data_key(
            conn, sub.ins, vault.master, plan.key, ctx.now
        ):
            raise _KeyedMeanwhile  # nothing stored: the transaction rolls back
        for old_id in (d.replaces for d in new_docs if d.replaces):
            if not documents.supersede(conn, old_id):
                # Replaced (or deleted) by another submission since _prepare.
                raise Conflict(
                    "REPLACES_NOT_CURRENT",
                    f"document {old_id} is no longer the current version",
                    "DocumentReference.relatesTo",
                )
        if not documents.insert_documents(conn, new_docs):
            # The same masterIdentifier arrived from a concurrent submission.
            raise Conflict("RETRY", "sent twice at once; send it again to get its outcome")
        if any(not d.visibility.hidden_from_patient for d in new_docs):
            notifications.enqueue_new_document(conn, sub.ins, ctx.now)
    by_master = {d.master_identifier: d for d in new_docs}
    return [
        Stored(by_master[c.new.master_identifier], True)
        if c.new.master_identifier in by_master
        else Stored(plan.resent[c.new.master_identifier], False)
        for c in checked
    ]


def _discard(store: BlobStore, keys: list[str]) -> None:
    """Best effort after a failed publish: what is left, `dmp fsck` removes."""
    for key in keys:
        try:
            store.delete(key)  # idempotent: also for the bytes never written
        except Exception:  # noqa: S112 - fsck finds what stays behind
            continue


def _author(ctx: Ctx, name: str | None) -> Author:
    actor = ctx.actor
    return Author(
        id=actor.id,
        role=actor.role.value,
        profession=actor.profession if actor.role is Role.PROFESSIONAL else None,
        organisation=actor.organisation,
        name=name,
    )


def _document(sub: Submission, c: _Checked, ctx: Ctx, replaced: dict[str, Document]) -> Document:
    new = c.new
    doc_id = str(uuid.uuid4())
    old = replaced.get(new.replaces) if new.replaces else None
    return Document(
        ins=sub.ins,
        id=doc_id,
        master_identifier=new.master_identifier,
        version=old.version + 1 if old else 1,
        replaces=new.replaces,
        status=DocumentStatus.CURRENT,
        archived=False,
        type_code=c.type.loinc,
        category=c.type.category,
        class_code=c.type.class_code,
        title=new.title or c.type.title,
        author=_author(ctx, new.author_name),
        care_start=new.care_start,
        care_end=new.care_end,
        created_at=new.created_at,
        published_at=ctx.now,
        visibility=new.visibility,
        mime_type=c.content.mime_type,
        format_code=c.content.format_code,
        language=new.language,
        size=c.content.size,
        sha256=c.content.sha256,
        sha1=hashlib.sha1(new.data, usedforsecurity=False).hexdigest(),
        # The wall clock, not ctx.now (which a caller may set in the past): fsck judges
        # the bytes' age by this hour.
        blob_key=blob_key(datetime.now(UTC), doc_id),
        submission_set=sub.submission_set,
        description=new.description,
    )


def _aad(doc: Document) -> bytes:
    # The sealed bytes are bound to their record and document: a blob copied under
    # another document's key does not open.
    return f"{doc.ins}/{doc.id}".encode()


def _seal(key: bytes, doc: Document, data: bytes) -> bytes:
    return seal(key, data, _aad(doc))


# --- find (ITI-67) ---


def find(db: Database, ctx: Ctx, query: DocumentQuery) -> Page:
    """The documents of a record the caller may see that answer `query` (R20, R21).

    A caller who may not search the record gets an empty page, as for a record that
    does not exist (the refusal is traced); `total` never counts a hidden document.
    """
    detail: dict[str, object] = {"query": _describe(query)}
    try:
        with guard.guarded(db, ctx, Action.SEARCH_DOCUMENTS, query.ins, detail=detail) as (
            conn,
            access,
        ):
            stored = documents.record_documents(conn, query.ins)
    except NotFound:
        return Page((), 0)
    today = local_date(ctx.now)
    visible = [
        d
        for d in stored
        if matches(d, query, today) and access.judge(ctx, Action.READ_DOCUMENT, document=d.facts())
    ]
    visible.sort(key=lambda d: sort_key(d, query.sort), reverse=query.descending)
    page = visible[query.offset : query.offset + query.count]
    return Page(tuple(page), len(visible))


def _describe(q: DocumentQuery) -> dict[str, object]:
    described: dict[str, object] = {}
    if q.types:
        described["type"] = sorted(q.types)
    if q.categories:
        described["category"] = sorted(c.value for c in q.categories)
    if q.statuses:
        described["status"] = sorted(s.value for s in q.statuses)
    if q.narrows_time:
        described["time"] = True
    return described


# --- read and retrieve (ITI-68) ---


def read_document(db: Database, ctx: Ctx, document_id: str) -> Document:
    """A document's metadata, if the caller may see it (traced)."""
    doc = _load(db, document_id)
    with (
        guard.refused_as(_unknown(document_id)),
        guard.guarded(
            db,
            ctx,
            Action.READ_DOCUMENT,
            doc.ins,
            document=doc.facts(),
            detail={"document": doc.id, "content": False},
        ),
    ):
        return doc


def retrieve(db: Database, vault: Vault, ctx: Ctx, document_id: str) -> tuple[Document, bytes]:
    """The original bytes of a document, checked against the stored SHA-256 (R6)."""
    doc = _load(db, document_id)
    with (
        guard.refused_as(_unknown(document_id)),
        guard.guarded(
            db,
            ctx,
            Action.READ_DOCUMENT,
            doc.ins,
            document=doc.facts(),
            detail={"document": doc.id, "content": True},
        ) as (conn, _),
    ):
        key = keyring.existing_data_key(conn, doc.ins, vault.master)
    if key is None:
        raise _unknown(document_id)
    try:
        data = open_sealed(key, vault.store.get(doc.blob_key), _aad(doc))
    except (BlobMissing, SealBroken) as exc:
        raise DocumentUnreadable(doc.id) from exc
    if hashlib.sha256(data).hexdigest() != doc.sha256:
        raise DocumentUnreadable(doc.id)
    return doc, data


class DocumentUnreadable(Exception):
    """The stored bytes are missing or do not match their hash: an operator's problem
    (storage damaged), never the caller's — reported as a server error."""

    def __init__(self, document_id: str) -> None:
        super().__init__(f"document {document_id}: stored bytes missing or damaged")
        self.document_id = document_id


def _unknown(document_id: str) -> NotFound:
    return NotFound("DOCUMENT_NOT_FOUND", f"no document {document_id}", "id")


def _load(db: Database, document_id: str) -> Document:
    with db.read() as conn:
        doc = documents.find_document(conn, document_id)
    if doc is None:
        raise _unknown(document_id)
    return doc


# --- lifecycle: delete, archive, visibility (R7, R12, R13, R21) ---


def delete_document(db: Database, ctx: Ctx, document_id: str) -> Document:
    """R7: logical deletion by the author only; the bytes stay for retention."""
    return _change(db, ctx, document_id, Action.DELETE_DOCUMENT, delete, {"deleted": True})


def archive_document(db: Database, ctx: Ctx, document_id: str, archived: bool) -> Document:
    """R21: archived documents leave the default search; their author decides."""
    return _change(
        db,
        ctx,
        document_id,
        Action.ARCHIVE_DOCUMENT,
        lambda d: set_archived(d, archived),
        {"archived": archived},
    )


def set_flags(db: Database, ctx: Ctx, document_id: str, flags: frozenset[Flag]) -> Document:
    """Change the visibility flags: masking is the holder's (R12), hiding from the
    holder or the representatives the author's (R13, R3). One request changes one
    person's flags; a mixed change is refused rather than half done.

    The policy is asked before anything about the request is judged, so a caller
    without rights learns nothing (not even that the flags clash); a request that
    changes nothing needs the same right as one that would.
    """
    doc = _load(db, document_id)
    holder_side = ctx.actor.role in (Role.PATIENT, Role.REPRESENTATIVE)
    request = flag_change(doc, frozenset(flags), ctx.now, holder_side)
    detail: dict[str, object] = {"flags": sorted(f.value for f in flags)}
    return _change(db, ctx, document_id, request.action, request.apply, detail)


def _change(
    db: Database,
    ctx: Ctx,
    document_id: str,
    action: Action,
    change: Callable[[Document], Document],
    detail: dict[str, object],
) -> Document:
    """One change of a stored document through the guard. A refusal answers like an
    unknown document (nothing tells whose record it is in); a change the policy
    allowed but a rule then refuses (a deleted document, clashing flags) is traced
    as failed."""
    doc = _load(db, document_id)
    facts = doc.facts()
    audit = AuditAction(action.value)
    traced = {"document": doc.id, **detail}
    with guard.refused_as(_unknown(document_id)), failures_traced(db, ctx, audit, doc.ins, traced):
        with guard.guarded(
            db, ctx, action, doc.ins, document=facts, detail={"document": doc.id, **detail}
        ) as (conn, _):
            current = documents.find_document(conn, document_id)
            assert current is not None
            after = change(current)
            if after != current:
                documents.save_state(conn, after)
        return after


# --- R13: documents awaiting their announcement ---


def announce_awaiting(db: Database, now: datetime, limit: int = 1000) -> int:
    """R13, R17: tell each holder once that a document hidden from them until an
    announcement consultation has waited 2 weeks (it becomes visible at 1 month).
    Returns how many notices were queued; run by `dmp notify` on every pass."""
    queued = 0
    with db.write() as conn:
        for doc in documents.awaiting_notice(conn, now - AWAITING_NOTICE_AFTER, limit):
            if not is_awaiting_announcement(doc, now):
                continue
            visible_from = local_date(doc.published_at + HIDDEN_FROM_PATIENT_AT_MOST)
            notifications.enqueue_document_awaiting(conn, doc.ins, now, visible_from)
            documents.mark_awaiting_notice(conn, doc, now)
            queued += 1
    return queued
