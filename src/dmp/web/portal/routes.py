"""The portal's route table, every route a `PortalRoute` (origin and CSRF checks)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dmp.web.portal import activation, home, login, reset, totp
from dmp.web.portal.security import PortalRoute


def portal_router() -> APIRouter:
    r = APIRouter(
        prefix="/portail",
        route_class=PortalRoute,
        default_response_class=HTMLResponse,
        include_in_schema=False,
    )
    r.add_api_route("", home.index, methods=["GET"])
    r.add_api_route("/activation", activation.show, methods=["GET"])
    r.add_api_route("/activation", activation.submit, methods=["POST"])
    r.add_api_route("/connexion", login.show, methods=["GET"])
    r.add_api_route("/connexion", login.submit, methods=["POST"])
    r.add_api_route("/code", login.code_page, methods=["GET"])
    r.add_api_route("/code", login.code_submit, methods=["POST"])
    r.add_api_route("/code/nouveau", login.resend, methods=["POST"])
    r.add_api_route("/deconnexion", login.logout, methods=["POST"])
    r.add_api_route("/mot-de-passe-oublie", reset.show, methods=["GET"])
    r.add_api_route("/mot-de-passe-oublie", reset.request_code, methods=["POST"])
    r.add_api_route("/reinitialisation", reset.submit, methods=["POST"])
    r.add_api_route("/mon-dossier", home.my_record, methods=["GET"])
    r.add_api_route("/securite", totp.show, methods=["GET"])
    r.add_api_route("/securite/totp", totp.begin, methods=["POST"])
    r.add_api_route("/securite/totp/confirmer", totp.confirm, methods=["POST"])
    return r
