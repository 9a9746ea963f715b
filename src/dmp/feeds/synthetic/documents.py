"""Synthetic documents for the demo, tests and benchmarks: a patient's varied record.

`sample_documents` draws, from a seeded `random.Random`, the documents a French patient
gathers: consultation reports, lab results, imaging, discharge letters, vaccinations,
a medical summary, dispensations, nursing notes, prescriptions, certificates, photos,
each in a format the DMP accepts (PDF, CDA level 1 and structured, FHIR document, text,
JPEG, PNG) and written by a professional whose profession may write that category
(RULES R10 defaults). The bytes come from document_formats.py, re-exported here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dmp.domain.document_types import document_type
from dmp.domain.identity import make_rpps
from dmp.feeds.synthetic.document_formats import (
    make_cda_level1,
    make_cda_structured,
    make_fhir_document_bundle,
    make_jpeg,
    make_pdf,
    make_png,
)

__all__ = [
    "SampleDocument",
    "make_cda_level1",
    "make_cda_structured",
    "make_fhir_document_bundle",
    "make_jpeg",
    "make_pdf",
    "make_png",
    "sample_documents",
]

PARIS = ZoneInfo("Europe/Paris")
# Care dates fall in the 3 years before this (some beyond R20's 2-year default window);
# a fixed default keeps the output a function of the seed. The demo passes its own `until`.
DEFAULT_UNTIL = datetime(2018, 11, 30, 18, 0, tzinfo=PARIS)
_SPAN = timedelta(days=3 * 365)

MEDECIN, PHARMACIEN, INFIRMIER = "10", "21", "60"  # professions.csv codes


@dataclass(frozen=True, slots=True)
class SampleDocument:
    loinc: str
    title: str
    mime_type: str
    data: bytes
    care_date: datetime
    author_rpps: str
    author_profession: str


@dataclass(frozen=True, slots=True)
class _Draft:
    """What one template draws before the author and date are attached."""

    loinc: str
    title: str
    mime_type: str
    data: bytes
    profession: str


_Template = Callable[[random.Random, str, datetime, str], _Draft]


def _title(loinc: str) -> str:
    return document_type(loinc).title  # the registry's title, the one the portal shows


def _fr(day: datetime) -> str:
    return day.strftime("%d/%m/%Y")


def _consultation(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    motive = rng.choice(
        ["toux persistante", "douleurs lombaires", "suivi d'hypertension", "fatigue", "vertiges"]
    )
    lines = [
        f"Consultation du {_fr(when)}.",
        f"Motif : {motive}.",
        f"Examen clinique : tension artérielle {rng.randint(110, 150)}/{rng.randint(65, 95)} "
        f"mmHg, pouls {rng.randint(55, 95)}/min, auscultation sans particularité.",
        "Conclusion : pas de signe de gravité ; traitement symptomatique, "
        "réévaluation dans quinze jours si persistance.",
        f"Dr (RPPS {rpps})",
    ]
    title = _title("11488-4")
    return _Draft("11488-4", title, "application/pdf", make_pdf(title, lines), MEDECIN)


def _biology(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    results = [
        ("Hémoglobine", rng.uniform(11.5, 16.5), "g/dL", "12,0 – 16,0"),
        ("Leucocytes", rng.uniform(3.5, 11.0), "G/L", "4,0 – 10,0"),
        ("Plaquettes", rng.uniform(140, 420), "G/L", "150 – 400"),
        ("Glycémie à jeun", rng.uniform(0.7, 1.3), "g/L", "0,70 – 1,10"),
        ("Créatinine", rng.uniform(55, 110), "µmol/L", "45 – 104"),
    ]
    lines = [f"Prélèvement du {_fr(when)}.", ""] + [
        f"{name} : {value:.2f} {unit} (valeurs de référence {ref})".replace(".", ",")
        for name, value, unit, ref in results
    ]
    title = _title("11502-2")
    return _Draft("11502-2", title, "application/pdf", make_pdf(title, lines), MEDECIN)


def _imaging(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    exam = rng.choice(["Radiographie thoracique de face", "Échographie abdominale", "IRM du genou"])
    lines = [f"{exam}, le {_fr(when)}.", "Technique : standard.", "Résultat : examen normal."]
    title = _title("18748-4")
    pdf = make_pdf(title, lines)
    data = make_cda_level1(pdf, ins=ins, title=title, loinc="18748-4", author_rpps=rpps, when=when)
    return _Draft("18748-4", title, "application/xml", data, MEDECIN)


def _discharge_letter(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    stay = rng.randint(1, 9)
    lines = [
        f"Hospitalisation de {stay} jour(s), sortie le {_fr(when)}.",
        f"Motif : {rng.choice(['pneumopathie', 'fracture du poignet', 'malaise'])}.",
        "Traitement de sortie : voir ordonnance jointe. Suivi par le médecin traitant.",
    ]
    title = _title("11490-0")
    pdf = make_pdf(title, lines)
    data = make_cda_level1(pdf, ins=ins, title=title, loinc="11490-0", author_rpps=rpps, when=when)
    return _Draft("11490-0", title, "application/xml", data, MEDECIN)


def _vaccinations(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    vaccines = rng.sample(
        ["DTCaPolio (rappel)", "Grippe saisonnière", "ROR", "Hépatite B", "Pneumocoque"], 3
    )
    given = [f"{name} : {_fr(when - timedelta(days=rng.randint(0, 3000)))}" for name in vaccines]
    title = _title("11369-6")
    data = make_cda_structured(
        ins=ins,
        title=title,
        loinc="11369-6",
        author_rpps=rpps,
        when=when,
        sections=[("Vaccinations", given)],
    )
    return _Draft("11369-6", title, "application/xml", data, MEDECIN)


def _summary(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    title = _title("60591-5")
    sections = [
        ("Antécédents", [rng.choice(["Appendicectomie (2004)", "Asthme dans l'enfance"])]),
        ("Allergies", [rng.choice(["Pénicilline", "Aucune allergie connue"])]),
        ("Traitements en cours", [rng.choice(["Amlodipine 5 mg/j", "Aucun"])]),
    ]
    data = make_fhir_document_bundle(
        ins=ins, title=title, loinc="60591-5", author_rpps=rpps, when=when, sections=sections
    )
    return _Draft("60591-5", title, "application/fhir+json", data, MEDECIN)


def _dispensation(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    drug = rng.choice(["Paracétamol 1 g, 8 comprimés", "Amoxicilline 1 g, 12 comprimés"])
    text = f"Dispensation du {_fr(when)}\n{drug}\nConseils donnés au patient.\n"
    return _Draft("60593-1", _title("60593-1"), "text/plain", text.encode(), PHARMACIEN)


def _administration(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    act = rng.choice(["Injection sous-cutanée d'héparine", "Pansement et antalgique"])
    text = f"Soins du {_fr(when)}\n{act}, réalisé(e) à domicile.\nBonne tolérance.\n"
    title = _title("80565-5")
    return _Draft("80565-5", title, "text/plain", text.encode(), INFIRMIER)


def _prescription(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    lines = [f"Ordonnance du {_fr(when)}", rng.choice(["Bas de contention classe 2", "Attelle"])]
    title = _title("57833-6")
    return _Draft("57833-6", title, "application/pdf", make_pdf(title, lines), MEDECIN)


def _certificate(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    lines = [
        f"Je soussigné(e), certifie avoir examiné ce jour ({_fr(when)}) le patient,",
        "et n'avoir constaté aucune contre-indication à la pratique du sport.",
    ]
    title = _title("89601-9")
    return _Draft("89601-9", title, "application/pdf", make_pdf(title, lines), MEDECIN)


def _photo(rng: random.Random, ins: str, when: datetime, rpps: str) -> _Draft:
    title = _title("52040-3")
    if rng.random() < 0.5:
        return _Draft("52040-3", title, "image/jpeg", make_jpeg(), MEDECIN)
    png = make_png(rng.randint(16, 64), rng.randint(16, 64))
    return _Draft("52040-3", title, "image/png", png, MEDECIN)


# (template, weight): consultations and lab results dominate a real record.
_TEMPLATES: tuple[tuple[_Template, int], ...] = (
    (_consultation, 25),
    (_biology, 20),
    (_imaging, 10),
    (_discharge_letter, 6),
    (_vaccinations, 6),
    (_summary, 4),
    (_dispensation, 10),
    (_administration, 5),
    (_prescription, 7),
    (_certificate, 4),
    (_photo, 3),
)


def sample_documents(
    rng: random.Random, ins: str, n: int, *, until: datetime = DEFAULT_UNTIL
) -> list[SampleDocument]:
    """`n` varied documents for the patient `ins`, cared for in the 3 years before `until`,
    oldest first. The same seed gives the same documents."""
    templates = [template for template, _ in _TEMPLATES]
    weights = [weight for _, weight in _TEMPLATES]
    seconds = int(_SPAN.total_seconds())
    documents = []
    for template in rng.choices(templates, weights, k=n):
        when = (until - timedelta(seconds=rng.randrange(seconds))).replace(microsecond=0)
        rpps = make_rpps(f"10{rng.randrange(10**8):08d}")
        draft = template(rng, ins, when, rpps)
        documents.append(
            SampleDocument(
                draft.loinc, draft.title, draft.mime_type, draft.data, when, rpps, draft.profession
            )
        )
    documents.sort(key=lambda d: d.care_date)
    return documents
