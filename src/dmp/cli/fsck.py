"""`dmp fsck`: blobs and database brought back into agreement after crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from dmp.cli.common import console, database, settings
from dmp.services.blobs_setup import blob_store_from
from dmp.services.fsck import fsck


def fsck_cmd(
    full: Annotated[
        bool, typer.Option("--full", help="parcourir aussi tout le stockage des documents")
    ] = False,
    older_than: Annotated[
        int, typer.Option(min=1, help="minutes après lesquelles un dépôt inachevé est abandonné")
    ] = 15,
) -> None:
    """Remove the blobs of abandoned publishes (and, with --full, every unreferenced blob)."""
    s = settings()
    report = fsck(
        database(s),
        blob_store_from(s),
        datetime.now(UTC),
        older_than=timedelta(minutes=older_than),
        full_scan=full,
    )
    table = Table(title="Vérification du stockage des documents", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("dépôts en attente examinés", _n(report.pending_checked))
    table.add_row("… dont métadonnées enregistrées", _n(report.pending_committed))
    table.add_row("… dont fichiers orphelins supprimés", _n(report.orphans_removed))
    if report.full_scan:
        table.add_row("fichiers parcourus", _n(report.keys_scanned))
        table.add_row("fichiers non référencés supprimés", _n(report.strays_removed))
    console.print(table)
    console.print(f"{_n(report.removed)} fichier(s) supprimé(s) ; vérification tracée.")


def _n(count: int) -> str:
    return f"{count:,}".replace(",", " ")
