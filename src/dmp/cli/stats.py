"""`dmp stats`: openings and pharmacy fees, from the rollups."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from dmp.cli.common import console, database, domain_errors, parse_day, settings
from dmp.domain.stats import make_openings_query
from dmp.services import stats as service

app = typer.Typer(help="Statistiques d'ouverture des dossiers.", no_args_is_help=True)


@app.command("openings")
def openings_cmd(
    to: Annotated[
        str, typer.Option("--to", help="dernier jour inclus (YYYY-MM-DD, heure de Paris)")
    ],
    by: Annotated[str, typer.Option("--by", help="channel|region|department|opener|week|day")],
    from_: Annotated[str | None, typer.Option("--from", help="premier jour inclus")] = None,
    cumulative: Annotated[
        bool, typer.Option("--cumulative", help="depuis le premier dossier")
    ] = False,
    channel: Annotated[str | None, typer.Option("--channel", help="un seul canal")] = None,
    format: Annotated[str, typer.Option("--format", help="table|json|csv")] = "table",
) -> None:
    """Openings whose local date falls in [from, to], grouped."""
    if format not in ("table", "json", "csv"):
        raise typer.BadParameter("must be table, json or csv", param_hint="--format")
    start = parse_day(from_, "--from") if from_ else None
    with domain_errors():
        query = make_openings_query(start, parse_day(to, "--to"), by, channel, cumulative)
        report = service.openings(database(), query)
    if format == "json":
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    elif format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["key", "label", "count"])
        writer.writerows((g.key, g.label, g.count) for g in report.groups)
    else:
        period = (
            f"{query.start.isoformat() if query.start else 'origine'} → {query.end.isoformat()}"
        )
        table = Table(title=f"Ouvertures par {by}, {period}")
        table.add_column("clé")
        table.add_column("libellé")
        table.add_column("ouvertures", justify="right")
        for g in report.groups:
            table.add_row(g.key, g.label, f"{g.count:,}".replace(",", " "))
        table.add_section()
        table.add_row("", "Total", f"{report.total:,}".replace(",", " "))
        console.print(table)


@app.command("pharmacy-fees")
def pharmacy_fees_cmd(month: Annotated[str, typer.Option("--month", help="YYYY-MM")]) -> None:
    """Per pharmacy FINESS: records opened in the month and the amount due, as CSV."""
    s = settings()
    with domain_errors():
        fees = service.monthly_pharmacy_fees(database(s), month, s.pharmacy_fee_eur)
    writer = csv.writer(sys.stdout)
    writer.writerow(["finess", "openings", "amount_eur"])
    writer.writerows((f.finess, f.openings, f.amount) for f in fees)
