"""The whole route table of the HTTP API."""

from __future__ import annotations

from fastapi import APIRouter

from dmp.api import records, stats


def api_router() -> APIRouter:
    r = APIRouter(prefix="/api")
    r.add_api_route(
        "/records", records.open_record, methods=["POST"], status_code=201, tags=["records"]
    )
    r.add_api_route("/records/{ins}", records.read_record, methods=["GET"], tags=["records"])
    r.add_api_route(
        "/records/{ins}/close", records.close_record, methods=["POST"], tags=["records"]
    )
    r.add_api_route(
        "/records/{ins}/reopen", records.reopen_record, methods=["POST"], tags=["records"]
    )
    r.add_api_route("/stats/openings", stats.openings, methods=["GET"], tags=["stats"])
    r.add_api_route("/stats/pharmacy-fees", stats.pharmacy_fees, methods=["GET"], tags=["stats"])
    return r
