"""`dmp open|close|reopen|purge|import-records|import-beneficiaries`: records and registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dmp.cli.common import console, ctx, database, domain_errors, errors, parse_day, settings
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.csvsource import CsvFileError
from dmp.feeds.records.runner import BATCH_SIZE, import_records_file
from dmp.feeds.runner import ImportSummary
from dmp.services import records as service
from dmp.services.blobs_setup import blob_store_from
from dmp.services.retention import purge_expired, purge_old_claims


def open_cmd(
    ins: Annotated[str, typer.Option(help="INS du titulaire (15 caractères)")],
    channel: Annotated[
        str, typer.Option(help="online|pharmacy|insurer|professional|establishment")
    ],
    opened_by: Annotated[
        str, typer.Option(help="FINESS, RPPS ou code de l'accueil ; vide en ligne")
    ] = "",
    consent_by: Annotated[str, typer.Option(help="holder|legal_representative")] = "holder",
    informed: Annotated[
        bool, typer.Option(help="le titulaire a reçu l'information (CSP R1111-40)")
    ] = False,
    department: Annotated[
        str, typer.Option(help="département de résidence (défaut : registre)")
    ] = "",
) -> None:
    """Open a record for a consenting beneficiary."""
    request = service.OpenRequest(
        ins, channel, opened_by or None, consent_by, informed, department or None
    )
    with domain_errors():
        record = service.open_record(database(), ctx(), request)
    o = record.opening
    console.print(f"Dossier ouvert : {record.ins} ({o.channel.value}, département {o.department})")


def close_cmd(
    ins: str,
    reason: Annotated[str, typer.Option(help="motif de la fermeture")],
    by: Annotated[str, typer.Option(help="holder|legal_representative")] = "holder",
) -> None:
    """Close a record at the holder's request."""
    with domain_errors():
        record = service.close_record(database(), ctx(), ins, by, reason)
    console.print(f"Dossier fermé : {record.ins} (conservé 10 ans, jusqu'à sa destruction)")


def reopen_cmd(
    ins: str,
    consent_by: Annotated[str, typer.Option(help="holder|legal_representative")] = "holder",
    informed: Annotated[bool, typer.Option(help="le titulaire a reçu l'information")] = False,
) -> None:
    """Reopen a closed record, with the holder's consent, within the retention period."""
    with domain_errors():
        record = service.reopen_record(database(), ctx(), ins, consent_by, informed)
    console.print(f"Dossier rouvert : {record.ins}")


def purge_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="date de référence YYYY-MM-DD")],
) -> None:
    """Purge every record closed more than 10 years before --as-of (CSP L1111-18), and
    the claim lines older than 24 months (RULES R5)."""
    day = parse_day(as_of, "--as-of")
    s = settings()
    with domain_errors():
        purged = purge_expired(database(s), ctx(), day, blob_store_from(s))
    for p in purged:
        console.print(
            f"purgé {p.ins} (fermé le {p.closed_at.date().isoformat()}, "
            f"{p.documents} document(s) détruit(s))"
        )
    console.print(
        f"{len(purged)} dossier(s) purgé(s) au {day.isoformat()} ; chaque purge est tracée."
    )
    with domain_errors():  # RULES R5: the care history keeps 24 months
        lines = purge_old_claims(database(s), ctx(), day)
    console.print(f"{lines} ligne(s) de remboursement de plus de 24 mois supprimée(s).")


def _report(summary: ImportSummary) -> None:
    for label, n in summary.lines():
        console.print(f"  {label:<28} {n:>12,}".replace(",", " "))
    if summary.rejects_path:
        errors.print(f"Lignes rejetées écrites dans {summary.rejects_path}")
        raise typer.Exit(1)


def import_records_cmd(
    file: Annotated[Path, typer.Argument(help="CSV UTF-8 des dossiers existants")],
    rejects: Annotated[
        Path | None, typer.Option(help="fichier des rejets (défaut : FILE.rejects.csv)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=BATCH_SIZE)] = BATCH_SIZE,
    progress: Annotated[bool, typer.Option(help="barre de progression")] = True,
) -> None:
    """Migrate records opened in the legacy system (idempotent; rejects per line)."""
    try:
        summary = import_records_file(
            database(),
            ctx(),
            file,
            rejects or file.with_suffix(".rejects.csv"),
            batch_size,
            progress,
        )
    except CsvFileError as exc:
        errors.print(f"[red]Fichier illisible[/red] : {exc}")
        raise typer.Exit(2) from None
    _report(summary)


def import_beneficiaries_cmd(
    file: Annotated[Path, typer.Argument(help="CSV UTF-8 du registre des bénéficiaires")],
    rejects: Annotated[
        Path | None, typer.Option(help="fichier des rejets (défaut : FILE.rejects.csv)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 10_000,
    progress: Annotated[bool, typer.Option(help="barre de progression")] = True,
) -> None:
    """Load or refresh the insurer's registry of beneficiaries."""
    try:
        summary = import_beneficiaries_file(
            database(),
            ctx(),
            file,
            rejects or file.with_suffix(".rejects.csv"),
            batch_size,
            progress,
        )
    except CsvFileError as exc:
        errors.print(f"[red]Fichier illisible[/red] : {exc}")
        raise typer.Exit(2) from None
    _report(summary)
