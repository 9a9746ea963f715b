"""`dmp fsck`: blobs and database brought back into agreement after crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from dmp.cli.common import console, database, settings
from dmp.services.blobs_setup import blob_store_from
from dmp.services.fsck import FsckReport, fsck


def fsck_cmd(
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="parcourir tout le stockage, pas seulement les heures récentes"
        ),
    ] = False,
    hours: Annotated[int, typer.Option(min=1, help="heures récentes parcourues (sans --full)")] = 3,
    older_than: Annotated[
        int, typer.Option(min=1, help="minutes en deçà desquelles un fichier est trop récent")
    ] = 15,
) -> None:
    """Remove the bytes no document refers to: crashes' and purges' leftovers."""
    s = settings()
    report = fsck(
        database(s),
        blob_store_from(s),
        datetime.now(UTC),
        older_than=timedelta(minutes=older_than),
        hours=hours,
        full_scan=full,
    )
    console.print(_table(report, hours))
    console.print(f"{_n(report.removed)} fichier(s) supprimé(s) ; vérification tracée.")


def _table(report: FsckReport, hours: int) -> Table:
    table = Table(title="Vérification du stockage des documents", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    scope = "tout le stockage" if report.full_scan else f"{_n(hours)} dernières heures"
    table.add_row("étendue", scope)
    table.add_row("fichiers parcourus", _n(report.keys_scanned))
    table.add_row("… trop récents, laissés", _n(report.too_young_skipped))
    table.add_row("… référencés par un document", _n(report.referenced))
    table.add_row("… orphelins supprimés", _n(report.orphans_removed))
    table.add_row("… hors du format d/<heure>/", _n(report.outside_layout))
    if report.full_scan:
        table.add_row("… dont non référencés, supprimés", _n(report.strays_removed))
    return table


def _n(count: int) -> str:
    return f"{count:,}".replace(",", " ")
