"""The `document` table: document versions and their metadata (RULES R6)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from dmp.domain.documents import Author, Document, DocumentStatus, Visibility
from dmp.domain.matrix import Category
from dmp.storage.schema import document, pending_blob


def insert_documents(conn: Connection, docs: Sequence[Document]) -> None:
    if docs:
        conn.execute(insert(document), [_to_row(d) for d in docs])


def find_document(conn: Connection, document_id: str) -> Document | None:
    row = conn.execute(select(document).where(document.c.id == document_id)).mappings().first()
    return _to_document(row) if row else None


def find_by_master_identifiers(conn: Connection, ids: Iterable[str]) -> dict[str, Document]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(document).where(document.c.master_identifier.in_(wanted)))
    return {d.master_identifier: d for d in map(_to_document, rows.mappings())}


def find_documents(conn: Connection, ids: Iterable[str]) -> dict[str, Document]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(document).where(document.c.id.in_(wanted)))
    return {d.id: d for d in map(_to_document, rows.mappings())}


def record_documents(conn: Connection, ins: str) -> list[Document]:
    """Every version of every document of a record (a search filters them in memory:
    a record holds tens to a few thousand documents, read through the (ins, …) key)."""
    rows = conn.execute(select(document).where(document.c.ins == ins))
    return [_to_document(r) for r in rows.mappings()]


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


# --- bytes written before their metadata commits (crash consistency) ---


def add_pending_blobs(conn: Connection, ins: str, keys: Sequence[str], now: datetime) -> None:
    if keys:
        conn.execute(
            insert(pending_blob), [{"blob_key": k, "ins": ins, "created_at": now} for k in keys]
        )


def remove_pending_blobs(conn: Connection, keys: Sequence[str]) -> int:
    """Clear the notes of `keys`; how many there were (fsck may have taken some)."""
    if not keys:
        return 0
    result = conn.execute(delete(pending_blob).where(pending_blob.c.blob_key.in_(list(keys))))
    return int(result.rowcount)


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


def _to_document(r: RowMapping) -> Document:
    return Document(
        ins=r["ins"],
        id=r["id"],
        master_identifier=r["master_identifier"],
        version=r["version"],
        replaces=r["replaces"],
        status=DocumentStatus(r["status"]),
        archived=bool(r["archived"]),
        type_code=r["type_code"],
        category=Category(r["category"]),
        class_code=r["class_code"],
        title=r["title"],
        author=Author(
            id=r["author_id"],
            role=r["author_role"],
            profession=r["author_profession"],
            specialty=r["author_specialty"],
            organisation=r["author_organisation"],
            name=r["author_name"],
        ),
        care_start=_utc(r["care_start"]),
        care_end=_utc(r["care_end"]),
        created_at=_aware(r["created_at"]),
        published_at=_aware(r["published_at"]),
        visibility=Visibility(
            masked=bool(r["masked"]),
            hidden_from_patient=bool(r["hidden_from_patient"]),
            hidden_from_representatives=bool(r["hidden_from_representatives"]),
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
