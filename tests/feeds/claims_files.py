"""Builders for the claims-feed tests: lines, files, the registry, a run."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

from dmp.domain.claims import COLUMNS
from dmp.domain.identity import make_finess, make_rpps
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.claims.runner import ClaimsSummary, import_claims_file
from dmp.feeds.synthetic.files import write_beneficiaries
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from tests.personas import ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY

# 23:30 UTC on 15 March is already 16 March in Paris: the window is counted in Paris days.
NOW = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
TODAY = date(2026, 3, 16)
FIRST_DAY = date(2024, 3, 16)  # the window's first day on TODAY
HEADER = ",".join(COLUMNS)
RPPS = make_rpps("1000000001")
FINESS = make_finess("75000001")


def claim(claim_id: str, ins: str, care_date: str = "2026-01-10", **changes: str) -> str:
    """One line (a pharmacy dispensation unless changed), unquoted but for the label."""
    values = {
        "claim_id": claim_id,
        "ins": ins,
        "care_date": care_date,
        "category": "pharmacy",
        "code": "3400933516390",
        "label": '"PARACETAMOL 500 mg, comprimé"',
        "quantity": "2",
        "performer_rpps": RPPS,
        "performer_name": "Dupont Jeanne",
        "performer_profession": "21",
        "prescriber_rpps": "",
        "facility_finess": FINESS,
    }
    values.update(changes)
    return ",".join(values[c] for c in COLUMNS)


def write(tmp_path: Path, lines: list[str | bytes], name: str = "claims.csv") -> Path:
    path = tmp_path / name
    body = [x if isinstance(x, bytes) else x.encode() for x in lines]
    path.write_bytes(b"\n".join([HEADER.encode(), *body]) + b"\n")
    return path


def registry(db: Database) -> None:
    """Alice, Bob and Léo are beneficiaries (Zoé is not)."""
    people = [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY]
    load_beneficiaries_batch(db, system_ctx(NOW), people, "test")


def synthetic_registry(db: Database, tmp_path: Path, seed: int, count: int) -> None:
    path = tmp_path / "registry.csv"
    write_beneficiaries(path, count, seed)
    summary = import_beneficiaries_file(
        db, system_ctx(NOW), path, tmp_path / "registry.rejects.csv", show_progress=False
    )
    assert summary.rejected == 0


def run(
    db: Database, path: Path, block_size: int = 1 << 20, now: datetime = NOW, **kw: object
) -> ClaimsSummary:
    return import_claims_file(
        db,
        system_ctx(now, "test"),
        path,
        rejects_of(path),
        block_size=block_size,
        show_progress=False,
        **kw,  # type: ignore[arg-type]
    )


def rejects_of(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def rejected(path: Path) -> list[tuple[int, str, str]]:
    """(line, field, code) of the reject file, each with a reason."""
    target = rejects_of(path)
    if not target.exists():
        return []
    with target.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(r["reason"] for r in rows)
    return [(int(r["line"]), r["field"], r["code"]) for r in rows]
