"""The `dmp` command: one group per noun, registered here."""

from __future__ import annotations

import typer

from dmp.cli import (
    accounts,
    audit,
    claims,
    db,
    demo,
    fsck,
    generate,
    professionals,
    records,
    serve,
    stats,
    token,
)
from dmp.cli.common import remember_command
from dmp.cli.notify import notify_cmd

app = typer.Typer(
    help="dmp — Dossier Médical Partagé : administration et imports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _every_command(context: typer.Context) -> None:
    remember_command(context)  # so what a command opens is closed when it ends


app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(stats.app, name="stats")
app.add_typer(token.app, name="token")
app.add_typer(generate.app, name="generate")
app.command("open")(records.open_cmd)
app.command("close")(records.close_cmd)
app.command("reopen")(records.reopen_cmd)
app.command("purge")(records.purge_cmd)
app.command("import-records")(records.import_records_cmd)
app.command("import-beneficiaries")(records.import_beneficiaries_cmd)
app.command("import-claims")(claims.import_claims_cmd)
app.command("serve")(serve.serve_cmd)
app.command("demo")(demo.demo_cmd)
app.command("notify")(notify_cmd)
app.command("fsck")(fsck.fsck_cmd)
app.command("activation-codes")(accounts.activation_codes_cmd)
app.command("professional-contact")(professionals.professional_contact_cmd)
