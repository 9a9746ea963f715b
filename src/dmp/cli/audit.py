"""`dmp audit`: the audit trail."""

from __future__ import annotations

import typer

from dmp.cli.common import console, database, errors
from dmp.services.audit import verify_trail

app = typer.Typer(help="Journal d'audit.", no_args_is_help=True)


@app.command("verify")
def verify_cmd() -> None:
    """Recompute every hash chain; name the first altered, removed or reordered event."""
    report = verify_trail(database())
    if report.fault is not None:
        f = report.fault
        errors.print(
            f"[red]Journal altéré[/red] : chaîne {f.chain}, événement n° {f.seq} — {f.problem}"
        )
        raise typer.Exit(1)
    console.print(
        f"Journal intègre : {report.events:,} événements dans {report.chains:,} chaînes.".replace(
            ",", " "
        )
    )
