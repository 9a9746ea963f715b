"""The `document` table: document versions and their metadata (RULES R6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dmp.domain.documents import Author, Document, DocumentStatus, Visibility
from dmp.domain.matrix import Category
from dmp.storage.db import Prebuilt, fetch_all, fetch_one
from dmp.storage.schema import document


def insert_documents(conn: Connection, docs: Sequence[Document]) -> bool:
    """Insert all, or False when one is already stored (a concurrent resend of its
    masterIdentifier): the caller then rolls its transaction back, so none stays.

    ON CONFLICT DO NOTHING rather than a savepoint around the insert: a savepoint costs
    two more round trips on PostgreSQL for a conflict that almost never happens."""
    statement = _INSERT[conn.dialect.name]
    # One statement per document: a submission holds one or a few.
    inserted = sum(len(fetch_all(conn, statement, **_to_row(d))) for d in docs)
    return inserted == len(docs)


# What a publish stores (_to_row's keys); the other columns keep their defaults.
_COLUMNS = (
    "ins",
    "id",
    "master_identifier",
    "version",
    "replaces",
    "status",
    "archived",
    "type_code",
    "category",
    "class_code",
    "title",
    "author_id",
    "author_role",
    "author_profession",
    "author_specialty",
    "author_organisation",
    "author_name",
    "care_start",
    "care_end",
    "created_at",
    "published_at",
    "masked",
    "hidden_from_patient",
    "hidden_from_representatives",
    "confidentiality",
    "mime_type",
    "format_code",
    "language",
    "size",
    "sha256",
    "sha1",
    "blob_key",
    "submission_set",
    "description",
)
_VALUES: dict[str, BindParameter[Any]] = {name: bindparam(name) for name in _COLUMNS}
# Built once per dialect, values bound at execution (a statement holding its values is
# compiled anew for each publish). RETURNING counts the rows the conflict clause kept.
_INSERT = {
    "postgresql": Prebuilt(
        postgresql.insert(document)
        .values(_VALUES)
        .on_conflict_do_nothing()
        .returning(document.c.id)
    ),
    "sqlite": Prebuilt(
        sqlite.insert(document).values(_VALUES).on_conflict_do_nothing().returning(document.c.id)
    ),
}


def supersede(conn: Connection, document_id: str) -> bool:
    """R7: the current version becomes superseded; False if it no longer is current."""
    result = conn.execute(
        update(document)
        .where(document.c.id == document_id, document.c.status == DocumentStatus.CURRENT.value)
        .values(status=DocumentStatus.SUPERSEDED.value)
    )
    return int(result.rowcount) == 1


_BY_ID = Prebuilt(select(document).where(document.c.id == bindparam("id")))


def find_document(conn: Connection, document_id: str) -> Document | None:
    row = fetch_one(conn, _BY_ID, id=document_id)
    return _to_document(row) if row else None


# Built once: every publish resolves its resends with them. Most submissions hold one
# document (a prebuilt statement); more take an expanding IN, built by SQLAlchemy.
_BY_MASTER_IDENTIFIER = Prebuilt(
    select(document).where(document.c.master_identifier == bindparam("id"))
)
_BY_MASTER_IDENTIFIERS = select(document).where(
    document.c.master_identifier.in_(bindparam("ids", expanding=True))
)


def find_by_master_identifiers(conn: Connection, ids: Iterable[str]) -> dict[str, Document]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    if len(wanted) == 1:
        rows: Iterable[Mapping[Any, Any]] = fetch_all(conn, _BY_MASTER_IDENTIFIER, id=wanted[0])
    else:
        rows = conn.execute(_BY_MASTER_IDENTIFIERS, {"ids": wanted}).mappings()
    return {d.master_identifier: d for d in map(_to_document, rows)}


def find_documents(conn: Connection, ids: Iterable[str]) -> dict[str, Document]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(document).where(document.c.id.in_(wanted)))
    return {d.id: d for d in map(_to_document, rows.mappings())}


# Built once: constructing the statement costs more than running it for one patient.
_RECORD_DOCUMENTS = Prebuilt(select(document).where(document.c.ins == bindparam("ins")))


def record_documents(conn: Connection, ins: str) -> list[Document]:
    """Every version of every document of a record (a search filters them in memory:
    a record holds tens to a few thousand documents, read through the (ins, …) key)."""
    return [_to_document(r) for r in fetch_all(conn, _RECORD_DOCUMENTS, ins=ins)]


def awaiting_notice(conn: Connection, published_before: datetime, limit: int) -> list[Document]:
    """Current documents hidden from their holder, published before the date, whose
    holder was not yet told they await (R13)."""
    rows = conn.execute(
        select(document)
        .where(
            document.c.hidden_from_patient.is_(True),
            document.c.status == DocumentStatus.CURRENT.value,
            document.c.awaiting_notice_at.is_(None),
            document.c.published_at <= published_before,
        )
        .limit(limit)
    )
    return [_to_document(r) for r in rows.mappings()]


def mark_awaiting_notice(conn: Connection, doc: Document, at: datetime) -> None:
    conn.execute(
        update(document)
        .where(document.c.ins == doc.ins, document.c.id == doc.id)
        .values(awaiting_notice_at=at)
    )


def save_state(conn: Connection, doc: Document) -> None:
    """Store what changes after publication: status, archiving, visibility."""
    conn.execute(
        update(document)
        .where(document.c.ins == doc.ins, document.c.id == doc.id)
        .values(
            status=doc.status.value,
            archived=doc.archived,
            masked=doc.visibility.masked,
            hidden_from_patient=doc.visibility.hidden_from_patient,
            hidden_from_representatives=doc.visibility.hidden_from_representatives,
        )
    )


def _to_row(d: Document) -> dict[str, Any]:
    return {
        "ins": d.ins,
        "id": d.id,
        "master_identifier": d.master_identifier,
        "version": d.version,
        "replaces": d.replaces,
        "status": d.status.value,
        "archived": d.archived,
        "type_code": d.type_code,
        "category": d.category.value,
        "class_code": d.class_code,
        "title": d.title,
        "author_id": d.author.id,
        "author_role": d.author.role,
        "author_profession": d.author.profession,
        "author_specialty": d.author.specialty,
        "author_organisation": d.author.organisation,
        "author_name": d.author.name,
        "care_start": d.care_start,
        "care_end": d.care_end,
        "created_at": d.created_at,
        "published_at": d.published_at,
        "masked": d.visibility.masked,
        "hidden_from_patient": d.visibility.hidden_from_patient,
        "hidden_from_representatives": d.visibility.hidden_from_representatives,
        "confidentiality": "N",
        "mime_type": d.mime_type,
        "format_code": d.format_code,
        "language": d.language,
        "size": d.size,
        "sha256": d.sha256,
        "sha1": d.sha1,
        "blob_key": d.blob_key,
        "submission_set": d.submission_set,
        "description": d.description,
    }


_STATUS = {s.value: s for s in DocumentStatus}
_CATEGORY = {c.value: c for c in Category}


def _to_document(r: Mapping[Any, Any]) -> Document:
    # A search turns tens of rows into Documents per request: plain lookups, no Enum().
    return Document(
        ins=r["ins"],
        id=r["id"],
        master_identifier=r["master_identifier"],
        version=r["version"],
        replaces=r["replaces"],
        status=_STATUS[r["status"]],
        archived=bool(r["archived"]),
        type_code=r["type_code"],
        category=_CATEGORY[r["category"]],
        class_code=r["class_code"],
        title=r["title"],
        author=Author(
            r["author_id"],
            r["author_role"],
            r["author_profession"],
            r["author_specialty"],
            r["author_organisation"],
            r["author_name"],
        ),
        care_start=_utc(r["care_start"]),
        care_end=_utc(r["care_end"]),
        created_at=_aware(r["created_at"]),
        published_at=_aware(r["published_at"]),
        visibility=Visibility(
            bool(r["masked"]),
            bool(r["hidden_from_patient"]),
            bool(r["hidden_from_representatives"]),
        ),
        mime_type=r["mime_type"],
        format_code=r["format_code"],
        language=r["language"],
        size=r["size"],
        sha256=r["sha256"],
        sha1=r["sha1"],
        blob_key=r["blob_key"],
        submission_set=r["submission_set"],
        description=r["description"],
    )


def _aware(at: datetime) -> datetime:
    # SQLite gives naive datetimes back; every stored time is UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _utc(at: datetime | None) -> datetime | None:
    return _aware(at) if at is not None else None
