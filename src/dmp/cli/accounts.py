"""`dmp activation-codes`: the activation letters of the holders' portal accounts
(RULES R19: activation codes go by post, valid 6 weeks, used once).

The CSV is for the mailing house: one line per letter (INS, names, department, the
code in clear, the last day it is valid). It is the only place the codes exist in
clear, so it is created with mode 0600 and never overwritten. Each line is written
once its code is committed, so every line of the file is a valid code.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, TextIO

import typer

from dmp.cli.common import console, ctx, database, domain_errors, errors
from dmp.services import accounts as service
from dmp.services.accounts import Letter

HEADER = ["ins", "family_name", "given_names", "department", "code", "expires_on"]


def activation_codes_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="fichier CSV des courriers à créer (jamais écrasé)")
    ],
    ins: Annotated[
        list[str] | None,
        typer.Option(
            "--ins",
            help="INS d'un bénéficiaire (option répétable) : un nouveau code, qui annule le "
            "précédent ; sans --ins, tous les bénéficiaires majeurs sans compte ni code valide",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="au plus N courriers (envois par lots)")
    ] = None,
) -> None:
    """Issue activation codes for registry beneficiaries and write the letters' CSV."""
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        errors.print(f"[red]Refusé[/red] {out} existe déjà : choisissez un autre fichier.")
        raise typer.Exit(1) from None
    except OSError as exc:
        errors.print(f"[red]Refusé[/red] impossible de créer {out} : {exc.strerror}")
        raise typer.Exit(1) from None
    db = database()
    written = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file, domain_errors():
            writer = _writer(file)
            if ins:
                letters, skipped = service.issue_codes_for(db, ctx(), ins)
                written += _write(writer, file, letters)
                for who, why in skipped.items():
                    errors.print(f"{who} : pas de courrier ({why})")
            else:
                for batch in service.issue_codes_in_bulk(db, ctx(), limit):
                    written += _write(writer, file, batch)
    except BaseException:
        if written == 0:  # nothing issued: leave no empty letters file behind
            out.unlink(missing_ok=True)
        else:  # the lines written are valid codes: keep them, say so
            errors.print(f"Interrompu : {written} courrier(s) valable(s) déjà écrit(s) dans {out}.")
        raise
    console.print(f"{written} courrier(s) d'activation écrit(s) dans {out}.")


def _writer(file: TextIO) -> csv.DictWriter[str]:
    writer = csv.DictWriter(file, fieldnames=HEADER)
    writer.writeheader()
    return writer


def _write(writer: csv.DictWriter[str], file: TextIO, letters: Iterable[Letter]) -> int:
    count = 0
    for letter in letters:
        writer.writerow(
            {
                "ins": letter.ins,
                "family_name": letter.family_name,
                "given_names": letter.given_names,
                "department": letter.department,
                "code": letter.code,
                "expires_on": letter.expires_on.isoformat(),
            }
        )
        count += 1
    file.flush()
    os.fsync(file.fileno())
    return count
