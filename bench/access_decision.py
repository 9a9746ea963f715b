"""The cost of the access policy: one decision (µs), one audited read through the
guard (µs, SQLite and PostgreSQL), and the audit append rate (events/s).

    .venv/bin/python bench/access_decision.py [--runs 5] [--decisions 100000] [--reads 2000]

Medians of --runs runs. Goal (issue 3): a decision in microseconds, never the
bottleneck of a read.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from rich.table import Table

from backends import BACKENDS, backends, console
from dmp.domain.access import Action, CareLink, DocumentFacts, RecordFacts, Request, decide
from dmp.domain.actors import Actor, Role
from dmp.domain.audit import AuditAction
from dmp.domain.identity import ins_key, make_finess, make_rpps
from dmp.domain.matrix import Category, default_matrix
from dmp.domain.people import Beneficiary, Identity
from dmp.domain.records import RecordStatus
from dmp.services import care_team, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.services.trail import trace
from dmp.storage.db import Database

NOW = datetime(2019, 3, 1, 12, tzinfo=UTC)
FIRST13 = "2850375056123"
INS = FIRST13 + ins_key(FIRST13)
PHARMACY = make_finess("75000001")
NURSE = Actor(Role.PROFESSIONAL, make_rpps("1000000002"), profession="60", organisation=PHARMACY)


def time_decisions(n: int) -> float:
    """µs per decision: an authorised nurse reading a masked-or-not report."""
    record = RecordFacts(INS, RecordStatus.OPEN, date(1985, 3, 14))
    document = DocumentFacts(Category.COMPTE_RENDU, "10000000001", NOW - timedelta(days=2))
    request = Request(
        NURSE,
        Action.READ_DOCUMENT,
        record,
        NOW,
        default_matrix(),
        CareLink(authorised=True),
        None,
        document,
    )
    start = time.perf_counter()
    for _ in range(n):
        decide(request)
    return (time.perf_counter() - start) / n * 1e6


def prepare(db: Database) -> None:
    identity = Identity(INS, "Martin", "Alice", date(1985, 3, 14), "F")
    load_beneficiaries_batch(db, system_ctx(NOW), [Beneficiary(identity, "75", "01")], "bench")
    request = records.OpenRequest(INS, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(NOW - timedelta(days=30)), request)
    holder = Ctx(Actor(Role.PATIENT, INS), NOW)
    care_team.change_professional(db, holder, INS, NURSE.id, "authorise")


def time_reads(db: Database, n: int) -> float:
    """µs per audited read: guard (facts, decision, audit event) and commit."""
    ctx = Ctx(NURSE, NOW)
    start = time.perf_counter()
    for _ in range(n):
        records.get_record(db, ctx, INS)
    return (time.perf_counter() - start) / n * 1e6


def append_rate(db: Database, n: int) -> float:
    """Audit events per second, appended in batches of 100 per transaction."""
    ctx = system_ctx(NOW)
    start = time.perf_counter()
    for _ in range(0, n, 100):
        with db.write() as conn:
            for _event in range(100):
                trace(conn, ctx, AuditAction.RECORD_READ, record_ins=INS)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    decision = statistics.median(time_decisions(args.decisions) for _ in range(args.runs))
    table = Table(title=f"Politique d'accès (médiane de {args.runs} essais)")
    for column in ("mesure", "sqlite", "postgresql"):
        table.add_column(column, justify="right")
    table.add_row("décision (µs)", f"{decision:.1f}", f"{decision:.1f}")
    reads: dict[str, float] = {}
    appends: dict[str, float] = {}
    with backends() as chosen:
        for name in BACKENDS:
            with chosen.fresh(name) as db:
                prepare(db)
                runs = range(args.runs)
                reads[name] = statistics.median(time_reads(db, args.reads) for _ in runs)
                appends[name] = statistics.median(append_rate(db, 5000) for _ in runs)
    table.add_row("lecture auditée (µs)", *(f"{reads[b]:,.0f}" for b in BACKENDS))
    table.add_row("ajouts au journal (/s)", *(f"{appends[b]:,.0f}" for b in BACKENDS))
    console.print(table)


if __name__ == "__main__":
    main()
