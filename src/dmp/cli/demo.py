"""`dmp demo`: what `make run` runs — a database that looks like the 2018 launch, served.

Everything goes through the real paths: the registry and the legacy records through
the importers, further openings and closures through the services, each with the
time it happened as `ctx.now` (DESIGN: time is a parameter). Loading happens only
while the database holds no record, so a second `dmp demo` just serves.
"""

from __future__ import annotations

import json
import random
import sys
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from dmp.cli.common import console, database, errors
from dmp.cli.generate import DEFAULT_SEED, progress_bar
from dmp.config import Settings
from dmp.domain.actors import SYSTEM, Actor, Role
from dmp.domain.documents import NewDocument, Submission
from dmp.domain.errors import Conflict
from dmp.domain.identity import make_rpps
from dmp.domain.people import is_minor
from dmp.domain.profile import ProfileKind
from dmp.domain.records import Channel, Holder
from dmp.domain.time import local_date
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.records.runner import import_records_file
from dmp.feeds.runner import ImportSummary
from dmp.feeds.synthetic.documents import sample_documents
from dmp.feeds.synthetic.files import write_beneficiaries, write_records
from dmp.feeds.synthetic.launch import LAST_DAY, LAUNCH, LaunchOpening, launch_openings, opener
from dmp.feeds.synthetic.population import Person
from dmp.feeds.synthetic.profile import sample_profile
from dmp.main import create_app
from dmp.services import care_team as care_team_service
from dmp.services import documents as documents_service
from dmp.services import profile as profile_service
from dmp.services import records as records_service
from dmp.services import stats as stats_service
from dmp.services.blobs_setup import blob_store_from, master_key_from
from dmp.services.context import Ctx, system_ctx
from dmp.services.documents import Vault
from dmp.storage.db import Database
from dmp.storage.migrate import upgrade

CLOSE_REASONS = (
    "à la demande du titulaire",
    "ne souhaite plus de DMP",
    "installation à l'étranger",
    "ouverture faite par erreur",
)
LATEST_CLOSURE = datetime(2019, 1, 31, 18, tzinfo=UTC)
DOCUMENT_RECORDS = 120  # each document and profile entry is a committed transaction


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """Who is in the demo: people 0…beneficiaries−1 of the seed are in the registry, the
    first `records` of them have a legacy record, the next `openings` open one through
    the service, and the rest stay eligible without a record (to try `dmp open`)."""

    seed: int
    beneficiaries: int
    records: int

    @property
    def openings(self) -> int:
        # Two in five: each is a committed transaction (4–8 ms here on SQLite with
        # synchronous=FULL), and enough people stay without a record to try opening one.
        return (self.beneficiaries - self.records) * 2 // 5

    @property
    def opened(self) -> int:
        return self.records + self.openings

    def closures(self) -> set[int]:
        """A few dozen records, among all opened, that their holders close."""
        rng = random.Random(f"dmp-demo:{self.seed}:closures")
        return set(rng.sample(range(self.opened), min(self.opened, max(1, self.opened // 500))))


def demo_cmd(
    records: Annotated[int, typer.Option(min=0, help="dossiers existants à migrer")] = 15_000,
    beneficiaries: Annotated[int, typer.Option(min=1, help="bénéficiaires du registre")] = 20_000,
    seed: Annotated[int, typer.Option(help="graine des données synthétiques")] = DEFAULT_SEED,
    serve: Annotated[bool, typer.Option(help="servir ensuite les pages et l'API")] = True,
    host: Annotated[str | None, typer.Option(help="adresse d'écoute (défaut DMP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (défaut DMP_PORT)")] = None,
) -> None:
    """Load a synthetic launch (once), print what to open, and serve."""
    if records > beneficiaries:
        raise typer.BadParameter("at most --beneficiaries", param_hint="--records")
    s = Settings(mode="demo")
    s.prepare_data_dir()
    db = database(s)
    try:
        vault = Vault(blob_store_from(s), master_key_from(s), s.document_max_bytes)
        plan = _load_once(db, vault, DemoPlan(seed, beneficiaries, records), s.data_dir / "demo")
        host, port = host or s.host, port or s.port
        _print_guide(db, plan, f"http://{host}:{port}")
        if serve:
            uvicorn.run(create_app(s, db), host=host, port=port, log_level="info")
    finally:
        db.dispose()


def _load_once(db: Database, vault: Vault, plan: DemoPlan, folder: Path) -> DemoPlan:
    """Migrate, then load unless records exist; the plan actually loaded is kept in
    `folder`, so a later run prints examples that exist whatever its options."""
    upgrade(db)
    saved = folder / "demo.json"
    already = stats_service.totals(db, local_date(datetime.now(UTC))).opened
    if already:
        console.print(f"Base déjà chargée ({_n(already)} dossiers ouverts) : rien à charger.")
        return _saved_plan(saved) or plan
    _load(db, vault, plan, folder)
    saved.write_text(json.dumps(asdict(plan)), encoding="utf-8")
    return plan


def _load(db: Database, vault: Vault, plan: DemoPlan, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ctx = system_ctx(datetime.now(UTC), client="demo")
    registry, legacy = folder / "beneficiaires.csv", folder / "dossiers-existants.csv"
    with progress_bar("Génération du registre des bénéficiaires", plan.beneficiaries) as done:
        write_beneficiaries(registry, plan.beneficiaries, plan.seed, done)
    _check(import_beneficiaries_file(db, ctx, registry, registry.with_suffix(".rejects.csv")))
    with progress_bar("Génération des dossiers existants", plan.records) as done:
        write_records(legacy, plan.records, plan.seed, 0, done)
    _check(import_records_file(db, ctx, legacy, legacy.with_suffix(".rejects.csv")))
    _open_through_service(db, plan)
    _close_some(db, plan)
    _publish_documents(db, vault, plan)


def _with_documents(plan: DemoPlan) -> list[int]:
    """The records that get documents: the first legacy ones still open (the guide's
    example among them), a few hundred so the demo loads in seconds."""
    closed = plan.closures()
    return [i for i in range(min(plan.records, DOCUMENT_RECORDS)) if i not in closed]


def _publish_documents(db: Database, vault: Vault, plan: DemoPlan) -> None:
    """A few documents per record, each by its author, who first records the holder's
    consent given during care (R8): the real publishing path, encryption and audit."""
    chosen = _with_documents(plan)
    now = datetime.now(UTC)
    with progress_bar("Documents (PDF, CDA…) et profils de santé", len(chosen)) as done:
        for n, (person, _) in enumerate(_people_at(plan.seed, set(chosen)).values(), 1):
            rng = random.Random(f"dmp-demo:{plan.seed}:documents:{person.ins}")
            samples = sample_documents(rng, person.ins, rng.randint(2, 6), until=now)
            for k, sample in enumerate(samples):
                author = Actor(Role.PROFESSIONAL, sample.author_rpps, sample.author_profession)
                ctx = Ctx(author, now, client="demo")
                care_team_service.record_consent_in_care(db, ctx, person.ins)
                new = NewDocument(
                    master_identifier=f"urn:oid:1.2.250.1.999.{plan.seed}.{n}.{k}",
                    type_code=sample.loinc,
                    title=sample.title,
                    declared_mime=sample.mime_type,
                    data=sample.data,
                    created_at=sample.care_date,
                    care_start=sample.care_date,
                )
                submission = Submission(
                    person.ins, f"urn:oid:1.2.250.1.999.{plan.seed}.{n}", (new,)
                )
                with suppress(Conflict):  # published by an earlier, interrupted demo load
                    documents_service.publish(db, vault, ctx, submission)
            if not is_minor(person.birth_date, now.date()):
                _fill_profile(db, person, now, rng)
            done(n)


def _fill_profile(db: Database, person: Person, now: datetime, rng: random.Random) -> None:
    """The holder's own health profile (allergies, blood group, history, vaccinations,
    contacts), entered by the holder (R5); a minor's would be by the representatives."""
    holder = Ctx(Actor(Role.PATIENT, person.ins), now, client="demo")
    for resource in sample_profile(rng, person.ins, now.date()):
        kind = ProfileKind(resource["resourceType"])
        with suppress(Conflict):  # e.g. a second person of trust
            profile_service.create_entry(db, holder, kind, resource)


def _check(summary: ImportSummary) -> None:
    """The demo's own files must import cleanly; anything else is a bug to report."""
    if summary.rejected:
        errors.print(f"[red]Lignes rejetées[/red] : voir {summary.rejects_path}")
        raise typer.Exit(1)


def _open_through_service(db: Database, plan: DemoPlan) -> None:
    """Openings at pharmacies, desks, online… each at its own time of the launch weeks."""
    todo = islice(launch_openings(plan.seed), plan.records, plan.opened)
    chronological = sorted(todo, key=lambda pair: pair[1].opened_at)
    with progress_bar("Ouvertures de dossiers (service)", len(chronological)) as done:
        for n, (person, opening) in enumerate(chronological, 1):
            request = records_service.OpenRequest(
                person.ins,
                opening.channel.value,
                opening.opened_by or None,
                _holder(person, opening.opened_at).value,
                True,
                person.department,
            )
            with suppress(Conflict):  # opened by an earlier, interrupted demo load
                records_service.open_record(db, _ctx_at(opening.opened_at), request)
            if n % 100 == 0 or n == len(chronological):
                done(n)


def _close_some(db: Database, plan: DemoPlan) -> None:
    chosen = plan.closures()
    rng = random.Random(f"dmp-demo:{plan.seed}:closing")
    with progress_bar("Fermetures à la demande des titulaires", len(chosen)) as done:
        for n, (person, opening) in enumerate(_people_at(plan.seed, chosen).values(), 1):
            at = min(opening.opened_at + timedelta(days=rng.uniform(1, 45)), LATEST_CLOSURE)
            by = _holder(person, at).value
            reason = rng.choice(CLOSE_REASONS)
            with suppress(Conflict):  # closed by an earlier, interrupted demo load
                records_service.close_record(db, _ctx_at(at), person.ins, by, reason)
            done(n)


def _holder(person: Person, at: datetime) -> Holder:
    """RULES R3: a minor's legal representatives consent and close for them."""
    if is_minor(person.birth_date, local_date(at)):
        return Holder.LEGAL_REPRESENTATIVE
    return Holder.HOLDER


def _ctx_at(at: datetime) -> Ctx:
    return Ctx(SYSTEM, at, client="demo")


def _people_at(seed: int, indices: set[int]) -> dict[int, tuple[Person, LaunchOpening]]:
    """The people of the seed at these positions, in one pass over the stream."""
    if not indices:
        return {}
    stream = islice(launch_openings(seed), max(indices) + 1)
    return {i: pair for i, pair in enumerate(stream) if i in indices}


def _saved_plan(path: Path) -> DemoPlan | None:
    try:
        return DemoPlan(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _n(count: int) -> str:
    return f"{count:,}".replace(",", " ")


def _print_guide(db: Database, plan: DemoPlan, url: str) -> None:
    totals = stats_service.totals(db, local_date(datetime.now(UTC)))
    closed = plan.closures()
    today = datetime.now(UTC).date()
    candidates = _people_at(plan.seed, {i for i in range(min(plan.records, 50)) if i not in closed})
    # An adult: a minor's record is read by the legal representatives, not the minor (R3).
    adults = sorted(i for i, (p, _) in candidates.items() if not is_minor(p.birth_date, today))
    with_record = adults[0] if adults else None
    free = plan.beneficiaries - 1 if plan.beneficiaries > plan.opened else None
    examples = _people_at(plan.seed, {i for i in (with_record, free) if i is not None})
    dmp = sys.argv[0] if Path(sys.argv[0]).name == "dmp" else "dmp"
    period = f"from={LAUNCH.isoformat()}&to={LAST_DAY.isoformat()}"

    def say(text: str) -> None:
        # soft_wrap: long commands stay on one line, so they can be copied and pasted.
        console.print(text, soft_wrap=True)

    say("")
    say(
        f"[bold]Démonstration prête[/bold] : {_n(totals.opened)} dossiers ouverts, "
        f"{_n(totals.closed)} fermés, {_n(totals.active)} actifs, sur tout le territoire."
    )
    say(f"  Tableau de bord des ouvertures : {url}/stats")
    say(f"  API (documentation interactive) : {url}/docs")
    say(f"  curl '{url}/api/stats/openings?{period}&by=week'")
    say(f"  {dmp} stats openings --from {LAUNCH} --to {LAST_DAY} --by region")
    if with_record is not None:
        person = examples[with_record][0]
        name = f"{person.given_names} {person.family_name}"
        say(f"  Un dossier existant ({name}), lu par son ou sa titulaire :")
        say(f"    TITULAIRE=$({dmp} token patient --ins {person.ins})")
        say(f'    curl -H "Authorization: Bearer $TITULAIRE" {url}/api/records/{person.ins}')
        say(
            f'    curl -H "Authorization: Bearer $TITULAIRE" {url}/api/records/{person.ins}/history'
        )
        if with_record in _with_documents(plan):
            rng = random.Random(f"dmp-demo:{plan.seed}:documents:{person.ins}")
            count = rng.randint(2, 6)
            author = sample_documents(rng, person.ins, count, until=datetime.now(UTC))[0]
            query = f"patient.identifier=urn:oid:1.2.250.1.213.1.4.8|{person.ins}"
            say(
                "  Ses documents (FHIR, IHE MHD), lus par un professionnel autorisé "
                "et par le titulaire :"
            )
            say(
                f"    PRO=$({dmp} token professional --rpps {author.author_rpps} "
                f"--profession {author.author_profession})"
            )
            documents = f"'{url}/fhir/DocumentReference?{query}'"
            for who in ("PRO", "TITULAIRE"):
                say(f'    curl -H "Authorization: Bearer ${who}" {documents}')
    if free is not None:
        person = examples[free][0]
        pharmacy = opener(Channel.PHARMACY, person.department, 0)
        given_by = _holder(person, datetime.now(UTC)).value
        body = {
            "ins": person.ins,
            "channel": "pharmacy",
            "opened_by": pharmacy,
            "consent": {"given_by": given_by, "informed": True},
        }
        pharmacist = make_rpps("2100000001")
        say(f"  Un bénéficiaire sans dossier ({person.given_names} {person.family_name}),")
        say("  ouvert par un pharmacien de l'officine (jeton signé, comme Pro Santé Connect) :")
        say(
            f"    PHARMACIEN=$({dmp} token professional --rpps {pharmacist} --profession 21 "
            f"--finess {pharmacy})"
        )
        say(
            f'    curl -X POST {url}/api/records -H "Authorization: Bearer $PHARMACIEN" '
            f"-H 'content-type: application/json' -d '{json.dumps(body, ensure_ascii=False)}'"
        )
        say(
            f"    ou : {dmp} open --ins {person.ins} --channel pharmacy --opened-by {pharmacy} "
            f"--consent-by {given_by} --informed"
        )
    say(
        "[bold]Identifiants de démonstration[/bold] : les jetons de `dmp token` "
        "(titulaire, professionnel, agent de l'Assurance Maladie, opérateur), signés par "
        "l'émetteur de développement de ce serveur ; ils sont refusés en production. "
        "Le tableau de bord /stats est public en démonstration."
    )
