"""`dmp generate beneficiaries|records|claims`: synthetic files in the importers' formats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dmp.cli.common import console
from dmp.domain.time import local_date
from dmp.feeds.synthetic.claims import write_claims
from dmp.feeds.synthetic.files import write_beneficiaries, write_records

DEFAULT_SEED = 2018

app = typer.Typer(
    help="Données synthétiques façon lancement national de novembre 2018.",
    no_args_is_help=True,
)

Count = Annotated[int, typer.Option("--count", min=1, help="nombre de lignes valides")]
Out = Annotated[Path, typer.Option("--out", help="fichier CSV à écrire")]
Seed = Annotated[int, typer.Option("--seed", help="graine : même graine, mêmes données")]


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over `total` steps; yields a function told how many are done."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


def _lines(n: int) -> str:
    return f"{n:,}".replace(",", " ")


@app.command("beneficiaries")
def beneficiaries_cmd(count: Count, out: Out, seed: Seed = DEFAULT_SEED) -> None:
    """Write a registry of beneficiaries (ins,family_name,…,department,regime)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with progress_bar(f"Bénéficiaires → {out.name}", count) as advance:
        written = write_beneficiaries(out, count, seed, advance)
    console.print(f"{_lines(written)} bénéficiaires écrits dans {out} (graine {seed})")


@app.command("records")
def records_cmd(
    count: Count,
    out: Out,
    seed: Seed = DEFAULT_SEED,
    bad_lines: Annotated[
        int, typer.Option("--bad-lines", min=0, help="lignes volontairement fausses en plus")
    ] = 0,
) -> None:
    """Write legacy records opened from 6 November 2018, with bad lines if asked."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with progress_bar(f"Dossiers existants → {out.name}", count + bad_lines) as advance:
        written = write_records(out, count, seed, bad_lines, advance)
    console.print(
        f"{_lines(written)} lignes écrites dans {out} (graine {seed}), "
        f"dont {_lines(bad_lines)} volontairement fausses"
    )


@app.command("claims")
def claims_cmd(
    beneficiaries: Annotated[
        int, typer.Option("--beneficiaries", min=1, help="premiers bénéficiaires de la graine")
    ],
    lines: Annotated[int, typer.Option("--lines", min=1, help="nombre de lignes valides")],
    out: Annotated[Path, typer.Option("--out", help="fichier à écrire (.csv, .csv.gz, .parquet)")],
    seed: Seed = DEFAULT_SEED,
    bad_lines: Annotated[
        int | None,
        typer.Option("--bad-lines", min=0, help="lignes fausses en plus (défaut : 1 pour 1000)"),
    ] = None,
    registry: Annotated[
        Path | None, typer.Option("--registry", help="écrire aussi le registre des bénéficiaires")
    ] = None,
) -> None:
    """Write the insurer's claims of the last 30 months for the first beneficiaries."""
    bad = lines // 1000 if bad_lines is None else bad_lines
    out.parent.mkdir(parents=True, exist_ok=True)
    today = local_date(datetime.now(UTC))
    if registry is not None:
        with progress_bar(f"Bénéficiaires → {registry.name}", beneficiaries) as advance:
            write_beneficiaries(registry, beneficiaries, seed, advance)
    with progress_bar(f"Remboursements → {out.name}", lines + bad) as advance:
        written = write_claims(out, seed, beneficiaries, lines, today, bad, advance)
    console.print(
        f"{_lines(written)} lignes écrites dans {out} (graine {seed}, {_lines(beneficiaries)} "
        f"bénéficiaires), dont {_lines(bad)} volontairement fausses"
    )
