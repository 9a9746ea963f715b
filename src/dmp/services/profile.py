"""The patient's health profile: create, read, search, update and delete its entries
(issue 4; RULES R5, R7, R8–R12, R14–R16), every call through the guard.

Each call is one audit event (profile.search/read/write/delete), allowed or denied,
or failed when the change is refused after the policy allowed it. What the caller may
not see looks absent: a denied read, update or delete answers exactly as for an entry
that does not exist, a denied search is an empty page, and totals count only what the
caller may read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from dmp.domain.access import Action
from dmp.domain.audit import AuditAction
from dmp.domain.errors import NotFound, Refused
from dmp.domain.profile import (
    CATEGORY,
    ProfileEntry,
    ProfileKind,
    ProfileQuery,
    check_one_person_of_trust,
    check_version,
    entered_in_error,
    matches,
    new_entry,
    revise,
    sort_key,
)
from dmp.domain.profile_validation import check_resource
from dmp.services import guard
from dmp.services.context import Ctx
from dmp.services.trail import failures_traced
from dmp.storage import beneficiaries
from dmp.storage import profile as entries
from dmp.storage.db import Database


@dataclass(frozen=True, slots=True)
class ProfilePage:
    entries: tuple[ProfileEntry, ...]
    total: int  # what the caller may read, never more


def create_entry(db: Database, ctx: Ctx, kind: ProfileKind, data: object) -> ProfileEntry:
    """Add an entry to the profile of the patient the resource names (R5): the holder
    (or a minor's representatives, R3) for any kind, a professional as the matrix lets
    their profession write the kind's category (R8, R10)."""
    checked = check_resource(data, kind, ctx.now)
    entry = new_entry(checked, str(uuid.uuid4()), ctx.actor.id, ctx.actor.role.value, ctx.now)
    detail = _detail(entry)
    with (
        failures_traced(db, ctx, AuditAction.PROFILE_WRITE, checked.ins, detail),
        guard.guarded(
            db, ctx, Action.WRITE_PROFILE, checked.ins, category=CATEGORY[kind], detail=detail
        ) as (conn, _),
    ):
        if beneficiaries.find_beneficiary(conn, checked.ins) is None:
            # R1: nothing is added to a record whose INS is not a qualified identity.
            raise Refused(
                "INS_NOT_QUALIFIED",
                "the record's INS is not a qualified identity; it accepts no new entry",
                checked.subject_path,
            )
        others = entries.record_entries(conn, checked.ins, ProfileKind.RELATED_PERSON)
        check_one_person_of_trust(checked, None, others)
        entries.insert_entry(conn, entry)
    return entry


def read_entry(db: Database, ctx: Ctx, kind: ProfileKind, entry_id: str) -> ProfileEntry:
    """One entry, if the caller may read it (R8–R12, R14): as a document of its category."""
    entry = _load(db, kind, entry_id)
    with (
        guard.refused_as(_missing(kind, entry_id)),
        guard.guarded(
            db, ctx, Action.READ_PROFILE, entry.ins, document=entry.facts(), detail=_detail(entry)
        ),
    ):
        return entry


def find_entries(db: Database, ctx: Ctx, query: ProfileQuery) -> ProfilePage:
    """The entries of one kind the caller may read; a caller who may not search the
    record gets an empty page, as for a record that does not exist (traced)."""
    detail: dict[str, object] = {"type": query.kind.value}
    if query.codes:
        detail["code"] = sorted(query.codes)
    try:
        with guard.guarded(db, ctx, Action.SEARCH_PROFILE, query.ins, detail=detail) as (
            conn,
            access,
        ):
            stored = entries.record_entries(conn, query.ins, query.kind)
    except NotFound:
        return ProfilePage((), 0)
    visible = [
        e
        for e in stored
        if matches(e, query) and access.judge(ctx, Action.READ_PROFILE, document=e.facts())
    ]
    visible.sort(key=sort_key, reverse=True)
    return ProfilePage(tuple(visible[query.offset : query.offset + query.count]), len(visible))


def update_entry(
    db: Database,
    ctx: Ctx,
    kind: ProfileKind,
    entry_id: str,
    data: object,
    expected_version: int | None = None,
) -> ProfileEntry:
    """Replace an entry's content (FHIR update): by its author or the holder (R5, R7).
    `expected_version` (If-Match) refuses a change made on an outdated copy."""
    # The body is checked before the entry is looked up: a malformed body is refused
    # alike whether the entry exists or not, so the answer tells nothing of it.
    checked = check_resource(data, kind, ctx.now, entry_id)
    entry = _load(db, kind, entry_id)
    detail = {**_detail(entry), "version": entry.version + 1}
    with (
        failures_traced(db, ctx, AuditAction.PROFILE_WRITE, entry.ins, detail),
        guard.refused_as(_missing(kind, entry_id)),
        guard.guarded(
            db, ctx, Action.WRITE_PROFILE, entry.ins, document=entry.facts(), detail=detail
        ) as (conn, _),
    ):
        current = _current(conn, kind, entry_id)
        check_version(current, expected_version)
        after = revise(current, checked, ctx.now)
        check_one_person_of_trust(
            checked, entry_id, entries.record_entries(conn, entry.ins, ProfileKind.RELATED_PERSON)
        )
        entries.save_entry(conn, after)
    return after


def delete_entry(
    db: Database,
    ctx: Ctx,
    kind: ProfileKind,
    entry_id: str,
    expected_version: int | None = None,
) -> ProfileEntry:
    """R7 for the profile: logical deletion (entered in error), by the author or the
    holder. Deleting a deleted entry changes nothing."""
    entry = _load(db, kind, entry_id)
    detail = _detail(entry)
    with (
        failures_traced(db, ctx, AuditAction.PROFILE_DELETE, entry.ins, detail),
        guard.refused_as(_missing(kind, entry_id)),
        guard.guarded(
            db, ctx, Action.DELETE_PROFILE, entry.ins, document=entry.facts(), detail=detail
        ) as (conn, _),
    ):
        current = _current(conn, kind, entry_id)
        if current.deleted:
            return current
        check_version(current, expected_version)
        after = entered_in_error(current, ctx.now)
        entries.save_entry(conn, after)
    return after


def _detail(entry: ProfileEntry) -> dict[str, object]:
    return {"entry": f"{entry.kind.value}/{entry.id}"}


def _missing(kind: ProfileKind, entry_id: str) -> NotFound:
    return NotFound("ENTRY_NOT_FOUND", f"no {kind.value}/{entry_id}", "id")


def _load(db: Database, kind: ProfileKind, entry_id: str) -> ProfileEntry:
    with db.read() as conn:
        entry = entries.find_entry(conn, entry_id)
    if entry is None or entry.kind is not kind:
        raise _missing(kind, entry_id)
    return entry


def _current(conn: Connection, kind: ProfileKind, entry_id: str) -> ProfileEntry:
    """The entry as it is in this transaction (the guard holds the record's lock)."""
    current = entries.find_entry(conn, entry_id)
    if current is None:  # purged meanwhile
        raise _missing(kind, entry_id)
    return current
