"""The composition root: settings, database and adapters wired into one app."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from dmp import __version__
from dmp.api import auth, outcomes
from dmp.api.fhir.routes import fhir_router
from dmp.api.routes import api_router
from dmp.config import Settings
from dmp.domain.matrix import Matrix, default_matrix, parse_matrix
from dmp.services.blobs_setup import blob_store_from, master_key_from
from dmp.services.documents import Vault, announce_awaiting
from dmp.services.notifications import DeliveryWorker, worker_name
from dmp.storage.db import Database
from dmp.storage.mailer import SmtpConfig, SmtpMailer
from dmp.web.routes import mount_static, web_router


def load_matrix(settings: Settings) -> Matrix:
    """The authorisation matrix in force: the operator's file, checked cell by cell
    (a gap or a typo stops the server from starting), or the shipped defaults."""
    if settings.authorisation_matrix is None:
        return default_matrix()
    return parse_matrix(settings.authorisation_matrix.read_text("utf-8"))


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    app = FastAPI(title="dmp — Dossier Médical Partagé", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db or Database(settings.resolved_database_url())
    app.state.matrix = load_matrix(settings)
    # Documents' bytes: sealed under per-record keys wrapped by the master key, which
    # production refuses to run without (DMP_MASTER_KEY or DMP_MASTER_KEY_FILE).
    app.state.vault = Vault(
        blob_store_from(settings), master_key_from(settings), settings.document_max_bytes
    )
    outcomes.install(app)
    auth.install(app)
    # A request is matched against the routes in this order, one by one: the FHIR API,
    # which practice software calls all day, comes first.
    app.include_router(fhir_router())
    app.include_router(api_router())
    app.include_router(web_router())
    mount_static(app)
    return app


def app_from_environment() -> FastAPI:
    """The app the DMP_* environment describes: the factory `dmp serve --workers N`
    hands each worker process (uvicorn imports it by name)."""
    return create_app(Settings())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Beside the server, a thread delivers queued notices when DMP_NOTIFY_IN_PROCESS
    and DMP_SMTP_HOST say so (docs/decisions/0006-notifications.md)."""
    s: Settings = app.state.settings
    worker = None
    if s.notify_in_process and s.smtp_host:
        worker = DeliveryWorker(
            app.state.db,
            smtp_mailer(s),
            lambda: datetime.now(UTC),
            worker_name("serve"),
            interval=s.notify_interval,
            batch=s.notify_batch,
            max_attempts=s.notify_max_attempts,
            scheduled=(announce_awaiting,),
        )
        worker.start()
    try:
        yield
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.stop, 4 * s.smtp_timeout)


def smtp_mailer(s: Settings) -> SmtpMailer:
    """The SMTP sender the settings describe (DMP_SMTP_*)."""
    context = ssl.create_default_context(cafile=s.smtp_ca_file) if s.smtp_ca_file else None
    return SmtpMailer(
        SmtpConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            sender=s.smtp_from,
            starttls=s.smtp_starttls,
            ssl=s.smtp_ssl,
            user=s.smtp_user,
            password=s.smtp_password,
            timeout=s.smtp_timeout,
            tls_context=context,
        )
    )
