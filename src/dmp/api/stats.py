"""Openings statistics over HTTP: the same figures as `dmp stats`."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import Response

from dmp.api import deps
from dmp.api.json import Json
from dmp.config import Settings
from dmp.domain.stats import make_openings_query
from dmp.services import stats as service
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]


def openings(
    db: DbDep,
    to: Annotated[date, Query(description="last local day (Europe/Paris), inclusive")],
    by: Annotated[str, Query(description="channel|region|department|opener|week|day")],
    from_: Annotated[
        date | None, Query(alias="from", description="first local day, inclusive")
    ] = None,
    cumulative: bool = False,
    channel: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    report = service.openings(db, make_openings_query(from_, to, by, channel, cumulative))
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["key", "label", "count"])
        writer.writerows((g.key, g.label, g.count) for g in report.groups)
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    return Json(report.as_dict())


def pharmacy_fees(
    db: DbDep,
    settings: Annotated[Settings, Depends(deps.settings)],
    month: Annotated[str, Query(description="YYYY-MM")],
    format: Literal["json", "csv"] = "csv",
) -> Response:
    fees = service.monthly_pharmacy_fees(db, month, settings.pharmacy_fee_eur)
    if format == "json":
        body: list[dict[str, Any]] = [
            {"finess": f.finess, "openings": f.openings, "amount_eur": str(f.amount)} for f in fees
        ]
        return Json(
            {"month": month, "unit_fee_eur": str(settings.pharmacy_fee_eur), "pharmacies": body}
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["finess", "openings", "amount_eur"])
    writer.writerows((f.finess, f.openings, f.amount) for f in fees)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
