"""The whole route table of the web pages."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

from dmp.web import assets
from dmp.web.pages import stats
from dmp.web.portal.routes import portal_router


def web_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)
    r.add_api_route("/", lambda: RedirectResponse("/stats"), methods=["GET"])
    r.add_api_route("/stats", stats.page, methods=["GET"], response_class=HTMLResponse)
    r.include_router(portal_router())  # /portail (RULES R19)
    return r


def mount_static(app: FastAPI) -> None:
    """Our CSS and script, and Plotly's JavaScript from the installed package."""
    assets.mount(app)
