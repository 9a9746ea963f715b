"""Plain builders for the blob tests: a sealed document written as a publish would
(bytes under the hour they are written, then a complete `document` row), and the bytes
a crash leaves (the same, without the row)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from dmp.services.documents import blob_key as dated_key
from dmp.storage import keyring
from dmp.storage.blobs import BlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import MasterKey, seal
from dmp.storage.schema import document
from tests.personas import DR_BOB_RPPS

MASTER = MasterKey(b"k" * 32)


def new_blob_key(at: datetime) -> str:
    """A new document's key, as a publish at `at` names it."""
    return dated_key(at, str(uuid.uuid4()))


def aad(ins: str, blob_key: str) -> bytes:
    return f"{ins}|{blob_key}".encode()


def document_row(ins: str, blob_key: str, plaintext: bytes, now: datetime) -> dict[str, Any]:
    """Every column of a `document` row, the non-null ones filled in."""
    doc_id = str(uuid.uuid4())
    return {
        "ins": ins,
        "id": doc_id,
        "master_identifier": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "replaces": None,
        "status": "current",
        "archived": False,
        "type_code": "11488-4",  # LOINC: consult note
        "category": "compte-rendu",
        "class_code": "REPORTS",
        "title": "Compte rendu de consultation",
        "author_id": DR_BOB_RPPS,
        "author_role": "professional",
        "author_profession": "10",
        "author_specialty": "SM54",
        "author_organisation": None,
        "author_name": "Dr Bob",
        "care_start": now,
        "care_end": now,
        "created_at": now,
        "published_at": now,
        "masked": False,
        "hidden_from_patient": False,
        "hidden_from_representatives": False,
        "confidentiality": "N",
        "mime_type": "text/plain",
        "format_code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
        "language": "fr-FR",
        "size": len(plaintext),
        "sha256": hashlib.sha256(plaintext).hexdigest(),
        "sha1": hashlib.sha1(plaintext, usedforsecurity=False).hexdigest(),
        "awaiting_notice_at": None,
        "blob_key": blob_key,
        "submission_set": f"urn:uuid:{uuid.uuid4()}",
        "description": None,
    }


def publish(
    db: Database,
    store: BlobStore,
    ins: str,
    plaintext: bytes,
    now: datetime,
    blob_key: str | None = None,
) -> str:
    """A document stored as a publish does: sealed with the record's key, then its
    metadata; its blob key."""
    blob_key = blob_key or new_blob_key(now)
    with db.write() as conn:
        data_key = keyring.data_key_for(conn, ins, MASTER, now)
    store.put(blob_key, seal(data_key, plaintext, aad(ins, blob_key)))
    with db.write() as conn:
        conn.execute(document.insert().values(document_row(ins, blob_key, plaintext, now)))
    return blob_key


def crash_leftover(db: Database, store: BlobStore, ins: str, at: datetime) -> str:
    """What a publish at `at` leaves when it crashes between writing its bytes and
    committing its row: sealed bytes under `at`'s hour, no document. Their key."""
    blob_key = new_blob_key(at)
    with db.write() as conn:
        data_key = keyring.data_key_for(conn, ins, MASTER, at)
    store.put(blob_key, seal(data_key, b"sealed bytes of a crashed publish", aad(ins, blob_key)))
    return blob_key
