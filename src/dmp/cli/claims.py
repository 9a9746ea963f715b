"""`dmp import-claims FILE`: the insurer's claims file into the care histories (issue 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dmp.cli.common import console, ctx, database, errors
from dmp.feeds.claims.runner import ClaimsSummary, import_claims_file
from dmp.feeds.claims.source import BLOCK_SIZE
from dmp.feeds.csvsource import CsvFileError


def import_claims_cmd(
    file: Annotated[Path, typer.Argument(help="CSV UTF-8 (ou .csv.gz, ou Parquet) des lignes")],
    rejects: Annotated[
        Path | None, typer.Option(help="fichier des rejets (défaut : FILE.rejects.csv)")
    ] = None,
    block_size: Annotated[
        int,
        typer.Option(min=1024, max=1 << 28, help="octets lus par lot (un lot, une transaction)"),
    ] = BLOCK_SIZE,
    progress: Annotated[bool, typer.Option(help="barre de progression")] = True,
) -> None:
    """Import reimbursed care lines (idempotent, resumable; rejects and conflicts per line)."""
    rejects_path = rejects or file.with_name(file.name + ".rejects.csv")
    try:
        summary = import_claims_file(
            database(), ctx(), file, rejects_path, block_size=block_size, show_progress=progress
        )
    except CsvFileError as exc:
        errors.print(f"[red]Fichier illisible[/red] : {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        errors.print("Import interrompu : les lots validés sont gardés ; relancez pour reprendre.")
        raise typer.Exit(130) from None
    report(summary)


def report(summary: ClaimsSummary) -> None:
    if summary.resumed_after is not None:
        console.print(f"Reprise après la ligne {summary.resumed_after:,}".replace(",", " "))
    for label, n in summary.lines():
        console.print(f"  {label:<34} {n:>12,}".replace(",", " "))
    if summary.failed:
        errors.print(f"Lignes rejetées ou en conflit écrites dans {summary.rejects_path}")
        raise typer.Exit(1)
