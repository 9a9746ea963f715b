"""The `dmp` command: one group per noun, registered here."""

from __future__ import annotations

import typer

from dmp.cli import db, records, serve, stats

app = typer.Typer(
    help="dmp — Dossier Médical Partagé : administration et imports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(stats.app, name="stats")
app.command("open")(records.open_cmd)
app.command("close")(records.close_cmd)
app.command("reopen")(records.reopen_cmd)
app.command("purge")(records.purge_cmd)
app.command("import-records")(records.import_records_cmd)
app.command("import-beneficiaries")(records.import_beneficiaries_cmd)
app.command("serve")(serve.serve_cmd)
