"""The composition root: settings, database and adapters wired into one app."""

from __future__ import annotations

from fastapi import FastAPI

from dmp import __version__
from dmp.api import outcomes
from dmp.api.routes import api_router
from dmp.config import Settings
from dmp.storage.db import Database
from dmp.web.routes import mount_static, web_router


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    app = FastAPI(title="dmp — Dossier Médical Partagé", version=__version__)
    app.state.settings = settings
    app.state.db = db or Database(settings.resolved_database_url())
    outcomes.install(app)
    app.include_router(api_router())
    app.include_router(web_router())
    mount_static(app)
    return app
