"""Documents published per second through the HTTP API (issue 4): 50 KB PDFs in ITI-65
bundles posted by concurrent clients to `dmp serve` running in its own process, with
validation, encryption, audit and commit — on SQLite and PostgreSQL.

    .venv/bin/python bench/publish_documents.py [--documents 1500] [--clients 8] [--runs 3]

Goal on this 2-core machine: ≥ 500 documents/s (Medplum here: 85–132/s). The clients
share the machine with the server: each thread posts on its own kept-alive connection
with the standard library's HTTP client, the cheapest at hand.

Besides documents/s, the server's CPU milliseconds per document (user + system time of
`dmp serve` and its workers, from /proc): a figure that other programs running on the
machine meanwhile disturb far less than the wall clock.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path

import httpx
import orjson
from rich.table import Table

from backends import BACKENDS, backends, console, median
from dmp.domain.actors import Actor, Role
from dmp.domain.identity import ins_key, make_rpps
from dmp.domain.people import Beneficiary, Identity
from dmp.feeds.synthetic.documents import make_pdf
from dmp.services import care_team, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.services.tokens import open_dev_issuer
from dmp.storage.db import Database

DOCTOR = make_rpps("1000000001")
PATIENTS = 200
INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"


def patients(n: int) -> list[Beneficiary]:
    people = []
    for i in range(n):
        first13 = f"2850375{i:06d}"
        ins = first13 + ins_key(first13)
        identity = Identity(ins, f"Nom{i}", f"Prénom{i}", date(1985, 3, 14), "F")
        people.append(Beneficiary(identity, "75", "01"))
    return people


def prepare(db: Database, people: list[Beneficiary]) -> None:
    """Registry, records opened, the doctor authorised on each (R8)."""
    now = datetime.now(UTC)
    load_beneficiaries_batch(db, system_ctx(now), people, "bench")
    doctor = Ctx(Actor(Role.PROFESSIONAL, DOCTOR, "10"), now, "bench")
    for person in people:
        request = records.OpenRequest(person.identity.ins, "online", None, "holder", True)
        records.open_record(db, system_ctx(now), request)
        care_team.record_consent_in_care(db, doctor, person.identity.ins)


def bundle(ins: str, n: int, pdf_b64: str) -> bytes:
    subject = {"identifier": {"system": INS_SYSTEM, "value": ins}}
    return orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {
                        "resourceType": "List",
                        "identifier": [{"value": f"urn:oid:1.2.250.1.999.9.{n}"}],
                        "subject": subject,
                    },
                    "request": {"method": "POST", "url": "List"},
                },
                {
                    "resource": {
                        "resourceType": "DocumentReference",
                        "masterIdentifier": {"value": f"urn:oid:1.2.250.1.999.8.{n}"},
                        "status": "current",
                        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
                        "subject": subject,
                        "content": [
                            {"attachment": {"contentType": "application/pdf", "data": pdf_b64}}
                        ],
                    },
                    "request": {"method": "POST", "url": "DocumentReference"},
                },
            ],
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DMP_MODE": "dev",
        "DMP_DATA_DIR": str(data_dir),
        "DMP_DATABASE_URL": url,
        "DMP_NOTIFY_IN_PROCESS": "false",
    }
    dmp = Path(sys.executable).with_name("dmp")
    server = subprocess.Popen(
        [str(dmp), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("dmp serve did not start")


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and its workers so far, read from
    /proc (Linux): what a publish costs the server, whatever else runs on the machine."""
    total, pending = 0.0, [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        pending.extend(int(child) for child in children.split())
    return total


def run(
    url: str, data_dir: Path, documents: int, clients: int, workers: int, offset: int
) -> tuple[float, float]:
    """Documents/s for `documents` single-document bundles from `clients` threads, and
    the server's CPU milliseconds per document."""
    people = patients(PATIENTS)
    token = open_dev_issuer(data_dir, "dev").issue(
        Role.PROFESSIONAL,
        {"rpps": DOCTOR, "profession": "10"},
        audience="dmp",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    pdf = base64.b64encode(make_pdf("Compte rendu", ["Examen normal."], pad_to=50_000)).decode()
    bodies = [bundle(people[i % PATIENTS].identity.ins, offset + i, pdf) for i in range(documents)]
    port = free_port()
    server = serve(url, data_dir, port, workers)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    # Each client thread keeps its own connection (the standard library's client: httpx
    # spent 2 ms of this machine's CPU per document, taken from the server's share).
    connections: list[HTTPConnection] = []
    local = threading.local()

    def post(body: bytes) -> int:
        http: HTTPConnection | None = getattr(local, "http", None)
        if http is None:
            http = local.http = HTTPConnection("127.0.0.1", port, timeout=60)
            connections.append(http)
        http.request("POST", "/fhir", body=body, headers=headers)
        response = http.getresponse()
        response.read()
        return response.status

    try:
        post(bundle(people[0].identity.ins, -1 - offset, pdf))
        cpu_before = server_cpu_seconds(server.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
        cpu = server_cpu_seconds(server.pid) - cpu_before
    finally:
        for http in connections:
            http.close()
        server.terminate()
        server.wait(timeout=10)
    failed = [s for s in statuses if s != 200]
    if failed:
        raise RuntimeError(f"{len(failed)} publishes failed, e.g. HTTP {failed[0]}")
    return documents / elapsed, 1000 * cpu / documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL")
    # SQLite has one writer: a second process adds no throughput on this 2-core machine
    # (measured with the writer queue of storage/db.py: 116–150 documents/s with two,
    # 153–167 with one), so one serves it unless asked otherwise.
    parser.add_argument("--sqlite-workers", type=int, default=1, help="server processes on SQLite")
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    args = parser.parse_args()
    table = Table(
        title=f"Publish (ITI-65), 50 KB PDF, HTTP, {args.clients} clients, "
        f"{args.workers} server processes on PostgreSQL, {args.sqlite_workers} on SQLite"
    )
    table.add_column("backend")
    table.add_column("documents/s (median)", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("server CPU ms/document (median)", justify="right")
    with backends() as chosen:
        for backend in args.backend or BACKENDS:
            with chosen.fresh(backend) as db:
                prepare(db, patients(PATIENTS))
                url = str(db.engine.url.render_as_string(hide_password=False))
                data_dir = chosen.folder / f"data-{backend}"
                data_dir.mkdir()
                rates, costs = [], []
                for r in range(args.runs):
                    workers = args.sqlite_workers if backend == "sqlite" else args.workers
                    rate, cost = run(
                        url, data_dir, args.documents, args.clients, workers, r * 10**6
                    )
                    console.print(
                        f"{backend} run {r + 1}: {rate:,.0f} documents/s, "
                        f"server CPU {cost:.2f} ms/document"
                    )
                    rates.append(rate)
                    costs.append(cost)
            table.add_row(
                backend,
                f"{median(rates):,.0f}",
                " ".join(f"{x:.0f}" for x in rates),
                f"{median(costs):.2f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
