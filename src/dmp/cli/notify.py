"""`dmp notify`: deliver the queued notices by e-mail (RULES R17)."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from dmp.cli.common import console, database, errors, settings
from dmp.main import smtp_mailer
from dmp.services.documents import announce_awaiting
from dmp.services.notifications import (
    DeliveryWorker,
    deliver_due,
    requeue_failed,
    worker_name,
)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def notify_cmd(
    once: Annotated[
        bool, typer.Option("--once", help="un seul passage sur les avis dus, puis s'arrêter")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(min=0.1, help="secondes entre deux passages (défaut DMP_NOTIFY_INTERVAL)"),
    ] = None,
    requeue: Annotated[
        bool,
        typer.Option("--requeue-failed", help="remettre en file les avis en échec, d'abord"),
    ] = False,
) -> None:
    """Deliver queued notices over SMTP (DMP_SMTP_*); runs until stopped unless --once."""
    s = settings()
    if not s.smtp_host:
        errors.print("[red]Refusé[/red] DMP_SMTP_HOST n'est pas configuré : aucun envoi possible.")
        raise typer.Exit(1)
    try:
        mailer = smtp_mailer(s)
    except (ValueError, OSError) as exc:  # both TLS modes, login in clear, bad CA file
        errors.print(f"[red]Refusé[/red] configuration SMTP : {exc}")
        raise typer.Exit(1) from None
    db = database(s)
    try:
        if requeue:
            count = requeue_failed(db, datetime.now(UTC))
            console.print(f"{count} avis en échec remis en file.")
        if once:
            awaiting = announce_awaiting(db, datetime.now(UTC))
            if awaiting:
                console.print(f"{awaiting} avis « document en attente d'annonce » mis en file.")
            report = deliver_due(
                db,
                mailer,
                datetime.now(UTC),
                worker_name("cli"),
                s.notify_batch,
                max_attempts=s.notify_max_attempts,
            )
            console.print(
                f"{report.sent} envoyé(s), {report.retried} à réessayer, {report.failed} en échec."
            )
            return
        worker = DeliveryWorker(
            db,
            mailer,
            lambda: datetime.now(UTC),
            worker_name("notify"),
            interval=interval or s.notify_interval,
            batch=s.notify_batch,
            max_attempts=s.notify_max_attempts,
            scheduled=(announce_awaiting,),
        )

        def _stop(signum: int, _frame: FrameType | None) -> None:
            worker.stop()  # after the pass under way; a second Ctrl-C interrupts it
            signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else _interrupt)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        console.print(f"Envoi des avis par {s.smtp_host}:{s.smtp_port} (Ctrl-C pour arrêter)")
        worker.run()
    finally:
        db.dispose()
