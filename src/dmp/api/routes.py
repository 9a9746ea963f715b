"""The whole route table of the HTTP API."""

from __future__ import annotations

from fastapi import APIRouter

from dmp.api import care_team, history, records, representatives, stats


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
    r.add_api_route(
        "/records/{ins}/care-team", care_team.read_care_team, methods=["GET"], tags=["care team"]
    )
    r.add_api_route(
        "/records/{ins}/care-team",
        care_team.change_professional,
        methods=["POST"],
        tags=["care team"],
    )
    r.add_api_route(
        "/records/{ins}/emergency-choices",
        care_team.set_emergency_choices,
        methods=["PUT"],
        tags=["care team"],
    )
    r.add_api_route(
        "/records/{ins}/consent", care_team.record_consent, methods=["POST"], tags=["care team"]
    )
    r.add_api_route(
        "/records/{ins}/emergency",
        care_team.declare_emergency,
        methods=["POST"],
        status_code=201,
        tags=["care team"],
    )
    r.add_api_route(
        "/records/{ins}/history", history.read_history, methods=["GET"], tags=["history"]
    )
    r.add_api_route(
        "/records/{ins}/representatives",
        representatives.list_representatives,
        methods=["GET"],
        tags=["representatives"],
    )
    r.add_api_route(
        "/records/{ins}/representatives",
        representatives.declare,
        methods=["POST"],
        status_code=201,
        tags=["representatives"],
    )
    r.add_api_route(
        "/records/{ins}/representatives/{who}",
        representatives.withdraw,
        methods=["DELETE"],
        tags=["representatives"],
    )
    r.add_api_route("/stats/openings", stats.openings, methods=["GET"], tags=["stats"])
    r.add_api_route("/stats/pharmacy-fees", stats.pharmacy_fees, methods=["GET"], tags=["stats"])
    return r
