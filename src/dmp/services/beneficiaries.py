"""Loading the insurer's registry of beneficiaries (DESIGN: eligibility)."""

from __future__ import annotations

from dmp.domain.audit import AuditAction
from dmp.domain.people import Beneficiary
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage.beneficiaries import upsert_beneficiaries
from dmp.storage.db import Database


def load_beneficiaries_batch(db: Database, ctx: Ctx, people: list[Beneficiary], source: str) -> int:
    """Insert or refresh a batch of registry lines; one audit event per batch.

    A person listed twice in a batch keeps the last line (the registry's latest word).
    """
    latest = {p.identity.ins: p for p in people}
    with db.write() as conn:
        upsert_beneficiaries(conn, list(latest.values()), ctx.now)
        trace(
            conn,
            ctx,
            AuditAction.BENEFICIARIES_IMPORT,
            detail={"source": source, "lines": len(people), "beneficiaries": len(latest)},
        )
    return len(latest)
