"""`dmp token …`: bearer tokens from the development issuer (dev and demo modes only).

Each command prints the token alone on stdout, so `TOKEN=$(dmp token …)` works;
messages go to stderr. RULES R18: in production, professionals authenticate with
Pro Santé Connect; this issuer is refused there.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape

from dmp.cli.common import errors, settings
from dmp.domain.actors import Role
from dmp.services.tokens import DevIssuerRefused, TokenRefused, open_dev_issuer

app = typer.Typer(
    help="Jetons d'accès de l'émetteur de développement (modes dev et demo).",
    no_args_is_help=True,
)

TtlOption = Annotated[int, typer.Option(help="durée de validité en minutes", min=1)]

# The option that fed each claim, and what it is in French, for error messages.
_OPTIONS = {
    "rpps": ("--rpps", "numéro RPPS"),
    "profession": ("--profession", "code profession"),
    "specialty": ("--specialty", "code spécialité"),
    "finess": ("--finess", "numéro FINESS"),
    "ins": ("--ins", "INS"),
    "sub": ("--id", "identifiant"),
    "exp": ("--ttl-minutes", "durée de validité"),
}


def _issue(role: Role, claims: Mapping[str, str | None], ttl_minutes: int) -> None:
    s = settings()
    try:
        issuer = open_dev_issuer(s.data_dir, s.mode)
        token = issuer.issue(
            role,
            {k: v for k, v in claims.items() if v is not None},
            audience=s.oidc_audience,
            now=datetime.now(UTC),
            ttl=timedelta(minutes=ttl_minutes),
            max_lifetime=timedelta(minutes=s.token_max_lifetime_minutes),
        )
    except DevIssuerRefused:
        errors.print(
            f"[red]Refusé[/red] : l'émetteur de développement ne fonctionne qu'en mode dev "
            f"ou demo (DMP_MODE={s.mode}) ; en production, les jetons viennent de "
            "Pro Santé Connect."
        )
        raise typer.Exit(1) from None
    except TokenRefused as exc:
        option, label = _OPTIONS.get(exc.claim or "", ("", "valeur"))
        errors.print(f"[red]Refusé[/red] : {label} invalide ({option}) — {escape(exc.reason)}")
        raise typer.Exit(1) from None
    except (OSError, ValueError) as exc:
        errors.print(
            f"[red]Clé de l'émetteur de développement inutilisable[/red] : {escape(str(exc))}"
        )
        raise typer.Exit(1) from None
    typer.echo(token)  # plain, never wrapped: the whole token on one line


@app.command("professional")
def professional_cmd(
    rpps: Annotated[str, typer.Option(help="numéro RPPS (11 chiffres)")],
    profession: Annotated[str, typer.Option(help="code profession (10 médecin, 21 pharmacien…)")],
    specialty: Annotated[str | None, typer.Option(help="code spécialité (ex. SM54)")] = None,
    finess: Annotated[str | None, typer.Option(help="FINESS de la structure")] = None,
    ttl_minutes: TtlOption = 60,
) -> None:
    """A health professional's token."""
    claims = {"rpps": rpps, "profession": profession, "specialty": specialty, "finess": finess}
    _issue(Role.PROFESSIONAL, claims, ttl_minutes)


@app.command("patient")
def patient_cmd(
    ins: Annotated[str, typer.Option(help="INS du titulaire (15 caractères)")],
    ttl_minutes: TtlOption = 60,
) -> None:
    """A patient's (record holder's) token."""
    _issue(Role.PATIENT, {"ins": ins}, ttl_minutes)


@app.command("representative")
def representative_cmd(
    id_: Annotated[str, typer.Option("--id", help="identifiant du représentant légal")],
    ins: Annotated[str, typer.Option(help="INS du mineur représenté")],
    ttl_minutes: TtlOption = 60,
) -> None:
    """A minor's legal representative's token."""
    _issue(Role.REPRESENTATIVE, {"sub": id_, "ins": ins}, ttl_minutes)


@app.command("operator")
def operator_cmd(
    id_: Annotated[str, typer.Option("--id", help="identifiant de l'opérateur")] = "ops-1",
    ttl_minutes: TtlOption = 60,
) -> None:
    """An operator's token."""
    _issue(Role.OPERATOR, {"sub": id_}, ttl_minutes)


@app.command("insurer-agent")
def insurer_agent_cmd(
    id_: Annotated[str, typer.Option("--id", help="identifiant de l'agent de l'Assurance Maladie")],
    ttl_minutes: TtlOption = 60,
) -> None:
    """An insurer (Assurance Maladie) agent's token."""
    _issue(Role.INSURER_AGENT, {"sub": id_}, ttl_minutes)
