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
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


def server_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user, system) of the server process and its workers so far, read from
    /proc (Linux): what a publish costs the server, whatever else runs on the machine.
    The system share is the kernel's: sockets, fsyncs, file creation, locks."""
    user, system, pending = 0.0, 0.0, [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        user += int(fields[11]) / ticks  # utime
        system += int(fields[12]) / ticks  # stime
        pending.extend(int(child) for child in children.split())
    return user, system


@dataclass(frozen=True)
class Figures:
    """One run: documents/s, and CPU milliseconds per document of the server (user,
    system) and of this bench's clients (what they take from the server's 2 cores)."""

    rate: float
    server_user: float
    server_system: float
    client: float
    # The server's instructions, millions per document (--instructions): user, kernel.
    instructions: tuple[float, float] | None

    @property
    def server(self) -> float:
        return self.server_user + self.server_system


def server_pids(pid: int) -> list[int]:
    """The server process and its workers."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue
        pending.extend(int(child) for child in children.split())
    return found


class InstructionCount:
    """The instructions the server's processes execute meanwhile (Linux `perf stat`,
    user and kernel): unlike time, hardly changed by what else runs on the machine, so
    a change's effect shows even while other benchmarks share the 2 cores."""

    def __init__(self, pid: int, folder: Path) -> None:
        self.output = folder / f"perf-{pid}.csv"
        pids = ",".join(str(p) for p in server_pids(pid))
        events = "instructions:u,instructions:k"
        self.perf = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", events, "-p", pids, "-o", str(self.output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # perf attaches

    def stop(self) -> tuple[float, float]:
        """Instructions executed since the start: in user space, in the kernel."""
        self.perf.send_signal(signal.SIGINT)
        self.perf.wait(timeout=10)
        counted = {}
        for line in self.output.read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("instructions:"):
                counted[fields[2]] = float(fields[0])
        if len(counted) != 2:
            raise RuntimeError(f"perf stat counted nothing: {self.output.read_text()!r}")
        return counted["instructions:u"], counted["instructions:k"]


def run(
    url: str,
    data_dir: Path,
    documents: int,
    clients: int,
    workers: int,
    offset: int,
    instructions: bool = False,
) -> Figures:
    """Documents/s for `documents` single-document bundles from `clients` threads, and
    the CPU milliseconds per document of the server and of the clients."""
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
        counter = InstructionCount(server.pid, data_dir) if instructions else None
        user_before, system_before = server_cpu_seconds(server.pid)
        client_before = time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
        client = time.process_time() - client_before
        user, system = server_cpu_seconds(server.pid)
        counted = counter.stop() if counter else None
    finally:
        for http in connections:
            http.close()
        server.terminate()
        server.wait(timeout=10)
    failed = [s for s in statuses if s != 200]
    if failed:
        raise RuntimeError(f"{len(failed)} publishes failed, e.g. HTTP {failed[0]}")
    per_document = 1000 / documents
    return Figures(
        documents / elapsed,
        (user - user_before) * per_document,
        (system - system_before) * per_document,
        client * per_document,
        None if counted is None else (counted[0] / documents / 1e6, counted[1] / documents / 1e6),
    )


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
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the server's instructions per document with perf stat (Linux)",
    )
    args = parser.parse_args()
    table = Table(
        title=f"Publish (ITI-65), 50 KB PDF, HTTP, {args.clients} clients, "
        f"{args.workers} server processes on PostgreSQL, {args.sqlite_workers} on SQLite"
    )
    table.add_column("backend")
    table.add_column("documents/s (median)", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("server CPU ms/document (median)", justify="right")
    table.add_column("of which system", justify="right")
    table.add_column("client CPU ms/document", justify="right")
    with backends() as chosen:
        for backend in args.backend or BACKENDS:
            with chosen.fresh(backend) as db:
                prepare(db, patients(PATIENTS))
                url = str(db.engine.url.render_as_string(hide_password=False))
                data_dir = chosen.folder / f"data-{backend}"
                data_dir.mkdir()
                runs: list[Figures] = []
                for r in range(args.runs):
                    workers = args.sqlite_workers if backend == "sqlite" else args.workers
                    f = run(
                        url,
                        data_dir,
                        args.documents,
                        args.clients,
                        workers,
                        r * 10**6,
                        args.instructions,
                    )
                    console.print(
                        f"{backend} run {r + 1}: {f.rate:,.0f} documents/s, server CPU "
                        f"{f.server:.2f} ms/document ({f.server_system:.2f} system), "
                        f"client CPU {f.client:.2f} ms/document, load {os.getloadavg()[0]:.1f}"
                        + (
                            f", instructions {f.instructions[0]:.1f} M user "
                            f"+ {f.instructions[1]:.1f} M kernel/document"
                            if f.instructions
                            else ""
                        )
                    )
                    runs.append(f)
            table.add_row(
                backend,
                f"{median([f.rate for f in runs]):,.0f}",
                " ".join(f"{f.rate:.0f}" for f in runs),
                f"{median([f.server for f in runs]):.2f}",
                f"{median([f.server_system for f in runs]):.2f}",
                f"{median([f.client for f in runs]):.2f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
