"""Find latency (ITI-67) for a patient with 20 documents, among 10⁵ and 10⁶ stored
documents (issue 4): the search service (policy, audit event, commit) and the same
search over HTTP from `dmp serve` in its own process, on SQLite and PostgreSQL.

    .venv/bin/python bench/find_documents.py [--sizes 100000 1000000] [--searches 400]

Goal on this 2-core machine: p99 ≤ 10 ms, and the same p99 at 10⁶ as at 10⁵ (the
search reads one patient's rows through the (ins, …) key, never the table). The HTTP
client is the standard library's, on one kept-alive connection.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rich.table import Table
from sqlalchemy import insert

from backends import BACKENDS, backends, console, median, percentile, progress
from dmp.domain.actors import Actor, Role
from dmp.domain.documents import DocumentQuery
from dmp.services import documents
from dmp.services.context import Ctx
from dmp.services.tokens import open_dev_issuer
from dmp.storage.db import Database
from dmp.storage.schema import document
from publish_documents import DOCTOR, free_port, patients, prepare, serve

MEASURED = 50  # patients with a record and 20 documents each
PER_PATIENT = 20
BATCH = 20_000


def row(ins: str, now: datetime, n: int) -> dict[str, Any]:
    doc_id = str(uuid.uuid4())
    return {
        "ins": ins,
        "id": doc_id,
        "master_identifier": f"urn:oid:1.2.250.1.999.7.{n}",
        "version": 1,
        "replaces": None,
        "status": "current",
        "archived": False,
        "type_code": "11488-4" if n % 3 else "11502-2",
        "category": "compte_rendu",
        "class_code": "10",
        "title": "Compte rendu",
        "author_id": DOCTOR,
        "author_role": "professional",
        "author_profession": "10",
        "author_specialty": None,
        "author_organisation": None,
        "author_name": None,
        "care_start": now - timedelta(days=n % 600),
        "care_end": None,
        "created_at": now - timedelta(days=n % 600),
        "published_at": now - timedelta(minutes=n % 100_000),
        "masked": n % 17 == 0,
        "hidden_from_patient": False,
        "hidden_from_representatives": False,
        "confidentiality": "N",
        "mime_type": "application/pdf",
        "format_code": "urn:ihe:iti:xds-sd:pdf:2008",
        "language": None,
        "size": 50_000,
        "sha256": "0" * 64,
        "sha1": "0" * 40,
        "awaiting_notice_at": None,
        "blob_key": f"d/2026112300/{doc_id}",
        "submission_set": f"urn:oid:1.2.250.1.999.6.{n}",
        "description": None,
    }


def fill(db: Database, total: int, measured: list[str], now: datetime) -> None:
    """`total` document rows: 20 for each measured patient, the rest spread over other
    patients 20 at a time (their records need not exist for the table's size to count)."""
    with progress() as bar:
        task = bar.add_task(f"{total:,} documents", total=total)
        n = 0
        while n < total:
            rows = []
            for _ in range(min(BATCH, total - n)):
                who = n // PER_PATIENT
                ins = measured[who] if who < len(measured) else f"9{who:014d}"
                rows.append(row(ins, now, n))
                n += 1
            with db.write() as conn:
                conn.execute(insert(document), rows)
            bar.update(task, completed=n)


def service_latencies(db: Database, measured: list[str], searches: int) -> list[float]:
    doctor = Actor(Role.PROFESSIONAL, DOCTOR, "10")
    out = []
    for i in range(searches):
        ins = measured[i % len(measured)]
        ctx = Ctx(doctor, datetime.now(UTC), "bench")
        started = time.perf_counter()
        page = documents.find(db, ctx, DocumentQuery(ins))
        out.append((time.perf_counter() - started) * 1000)
        assert page.total > 0
    return out


def http_latencies(url: str, data_dir: Path, measured: list[str], searches: int) -> list[float]:
    token = open_dev_issuer(data_dir, "dev").issue(
        Role.PROFESSIONAL,
        {"rpps": DOCTOR, "profession": "10"},
        audience="dmp",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    port = free_port()
    server = serve(url, data_dir, port, 1)
    out = []
    headers = {"Authorization": f"Bearer {token}"}
    # The standard library's client on one kept-alive connection, as practice software
    # keeps its own: httpx spent about 1 ms of this machine's CPU per request, a cost of
    # the client that the figure would have charged to the server.
    http = HTTPConnection("127.0.0.1", port)
    try:
        for i in range(searches + 20):
            ins = measured[i % len(measured)]
            query = urlencode({"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ins}"})
            started = time.perf_counter()
            http.request("GET", f"/fhir/DocumentReference?{query}", headers=headers)
            response = http.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200, body
            if i >= 20:  # warm-up
                out.append(elapsed)
    finally:
        http.close()
        server.terminate()
        server.wait(timeout=10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    args = parser.parse_args()
    table = Table(title=f"Find (ITI-67): a patient with {PER_PATIENT} documents, ms")
    for column in ("backend", "stored", "service p50", "service p99", "HTTP p50", "HTTP p99"):
        table.add_column(column, justify="right")
    people = patients(MEASURED)
    measured = [p.identity.ins for p in people]
    with backends() as chosen:
        for backend in args.backend or BACKENDS:
            for size in args.sizes:
                with chosen.fresh(backend) as db:
                    prepare(db, people)
                    fill(db, size, measured, datetime.now(UTC))
                    service_latencies(db, measured, 50)  # warm-up
                    service = service_latencies(db, measured, args.searches)
                    data_dir = chosen.folder / f"find-{backend}-{size}"
                    data_dir.mkdir()
                    url = db.engine.url.render_as_string(hide_password=False)
                    over_http = http_latencies(url, data_dir, measured, args.searches)
                table.add_row(
                    backend,
                    f"{size:,}",
                    f"{median(service):.2f}",
                    f"{percentile(service, 0.99):.2f}",
                    f"{median(over_http):.2f}",
                    f"{percentile(over_http, 0.99):.2f}",
                )
                console.print(f"{backend}, {size:,} documents: measured")
    console.print(table)


if __name__ == "__main__":
    main()
