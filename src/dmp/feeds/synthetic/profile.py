"""A synthetic health profile for the demo and tests (issue 4; RULES R5).

`sample_profile(rng, ins)` draws what a French patient's profile holds: an allergy or
two (pénicilline, pollens, arachide…), the blood group (LOINC 882-1, SNOMED CT value,
drawn with the French frequencies), medical history, vaccinations of the French
schedule with their dates, one or two emergency contacts and, often, a person of trust.
Each item is a FHIR R4 resource as a client sends it (no id, no meta), to be stored
through services/profile.create_entry by the holder.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from dmp.domain.document_types import LOINC_SYSTEM
from dmp.domain.profile import DMP_RELATIONSHIP, PERSON_OF_TRUST, V2_CONTACT_ROLE
from dmp.domain.profile_validation import (
    ALLERGY_CLINICAL,
    BLOOD_GROUP,
    BLOOD_GROUPS,
    CONDITION_CLINICAL,
    INS_SYSTEMS,
    SNOMED,
)

DEFAULT_TODAY = date(2018, 11, 30)  # as documents.py: the output is a function of the seed
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ATC = "http://www.whocc.no/atc"

# (SNOMED CT substance or product, French label, category, criticality)
_ALLERGIES = [
    ("764146007", "Pénicilline", "medication", "high"),
    ("387406002", "Sulfamides", "medication", "high"),
    ("387207008", "Ibuprofène", "medication", "low"),
    ("256259004", "Pollens", "environment", "low"),
    ("762952008", "Arachide", "food", "high"),
    ("111088007", "Latex", "environment", "high"),
    ("256277009", "Pollens de graminées", "environment", "low"),
    ("3718001", "Lait de vache", "food", "low"),
]
_MANIFESTATIONS = [
    ("271807003", "Éruption cutanée"),
    ("39579001", "Choc anaphylactique"),
    ("126485001", "Urticaire"),
    ("267036007", "Dyspnée"),
]
# ABO-Rh(D) in France (Établissement français du sang): O+ 36 %, A+ 37 %, B+ 9 %,
# AB+ 3 %, O- 6 %, A- 7 %, B- 1 %, AB- 1 %.
_BLOOD_WEIGHTS = {
    "278147001": 36,
    "278149003": 37,
    "278150003": 9,
    "278151004": 3,
    "278148006": 6,
    "278152006": 7,
    "278153001": 1,
    "278154007": 1,
}
# (SNOMED CT disorder or procedure, French label)
_HISTORY = [
    ("38341003", "Hypertension artérielle"),
    ("44054006", "Diabète de type 2"),
    ("195967001", "Asthme"),
    ("74400008", "Appendicite (opérée)"),
    ("49436004", "Fibrillation auriculaire"),
    ("35489007", "Dépression"),
    ("13645005", "Bronchopneumopathie chronique obstructive"),
    ("22298006", "Infarctus du myocarde"),
    ("90560007", "Goutte"),
    ("40930008", "Hypothyroïdie"),
]
_RESOLVED = {"74400008", "22298006"}  # history, not an active problem
# (ATC code, French label, age in years at which the French schedule gives it)
_VACCINES = [
    ("J07CA09", "DTCaPolio-Hib-HépB (hexavalent)", 0.2),
    ("J07BD52", "ROR (rougeole, oreillons, rubéole)", 1.0),
    ("J07AH07", "Méningocoque C conjugué", 1.0),
    ("J07CA02", "DTCaPolio (rappel)", 6.0),
    ("J07CA01", "dTPolio (rappel adulte)", 25.0),
    ("J07CA01", "dTPolio (rappel adulte)", 45.0),
    ("J07BB02", "Grippe saisonnière", 65.0),
]
_FIRST = ["Marie", "Jean", "Claire", "Pierre", "Sophie", "Luc", "Nathalie", "Paul", "Julie"]
_FAMILY = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]
# (HL7 v3 RoleCode, French label)
_KIN = [("SPS", "Conjoint"), ("CHILD", "Enfant"), ("SIB", "Frère ou sœur"), ("FRND", "Ami")]


def sample_profile(
    rng: random.Random, ins: str, today: date = DEFAULT_TODAY
) -> list[dict[str, Any]]:
    """A realistic profile for the patient `ins`, drawn from `rng` (reproducible); the
    dates fall between the birth the INS tells (year and month) and `today`."""
    born = _birth(ins, today)
    subject = {
        "reference": f"Patient/{ins}",
        "identifier": {"system": INS_SYSTEMS[0], "value": ins},
    }
    resources: list[dict[str, Any]] = []
    for allergy in rng.sample(_ALLERGIES, rng.choice([0, 1, 1, 2])):
        resources.append(_allergy(rng, subject, allergy, _between(rng, born, today)))
    resources.append(_blood_group(rng, subject, _between(rng, born, today)))
    for condition in rng.sample(_HISTORY, rng.randint(0, 3)):
        resources.append(_condition(subject, condition, _between(rng, born, today)))
    for code, label, age in _VACCINES:
        given = born + timedelta(days=int(age * 365.25) + rng.randint(0, 60))
        if given < today and rng.random() < 0.85:  # some doses were never recorded
            resources.append(_immunization(rng, subject, code, label, given))
    for i, kin in enumerate(rng.sample(_KIN, rng.randint(1, 2))):
        trust = i == 0 and rng.random() < 0.6
        resources.append(_contact(rng, subject, kin, trust=trust))
    return resources


def _birth(ins: str, today: date) -> date:
    """The birth month the INS encodes (RULES R1: NIR characters 2–5), in the last century
    when the two-digit year would be in the future."""
    year = 2000 + int(ins[1:3])
    if year > today.year:
        year -= 100
    month = int(ins[3:5])
    return date(year, month if 1 <= month <= 12 else 6, 1)


def _between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days - 1)))


def _coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _allergy(
    rng: random.Random, subject: dict[str, Any], allergy: tuple[str, str, str, str], onset: date
) -> dict[str, Any]:
    code, label, category, criticality = allergy
    manifestation = rng.choice(_MANIFESTATIONS)
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
        "type": "allergy",
        "category": [category],
        "criticality": criticality,
        "code": _coded(SNOMED, code, label),
        "patient": subject,
        "onsetDateTime": onset.isoformat(),
        "reaction": [{"manifestation": [_coded(SNOMED, *manifestation)]}],
    }


def _blood_group(rng: random.Random, subject: dict[str, Any], typed: date) -> dict[str, Any]:
    group = rng.choices(list(_BLOOD_WEIGHTS), weights=list(_BLOOD_WEIGHTS.values()))[0]
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            _coded(
                "http://terminology.hl7.org/CodeSystem/observation-category",
                "laboratory",
                "Laboratoire",
            )
        ],
        "code": _coded(LOINC_SYSTEM, BLOOD_GROUP, "Groupe sanguin ABO et Rhésus"),
        "subject": subject,
        "effectiveDateTime": typed.isoformat(),
        "valueCodeableConcept": _coded(SNOMED, group, BLOOD_GROUPS[group]),
    }


def _condition(subject: dict[str, Any], condition: tuple[str, str], onset: date) -> dict[str, Any]:
    code, label = condition
    resolved = code in _RESOLVED
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [{"system": CONDITION_CLINICAL, "code": "resolved" if resolved else "active"}]
        },
        "category": [
            _coded(
                "http://terminology.hl7.org/CodeSystem/condition-category",
                "problem-list-item",
                "Antécédent",
            )
        ],
        "code": _coded(SNOMED, code, label),
        "subject": subject,
        "onsetDateTime": onset.isoformat(),
    }


def _immunization(
    rng: random.Random, subject: dict[str, Any], code: str, label: str, given: date
) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": _coded(ATC, code, label),
        "patient": subject,
        "occurrenceDateTime": given.isoformat(),
        "primarySource": False,
        "lotNumber": f"{rng.choice('ABCDEFGHKMNPRSTUVWXYZ')}{rng.randint(1000, 9999)}",
    }


def _contact(
    rng: random.Random,
    subject: dict[str, Any],
    kin: tuple[str, str],
    *,
    trust: bool,
) -> dict[str, Any]:
    relationship = [
        _coded(V3_ROLE_CODE, *kin),
        _coded(V2_CONTACT_ROLE, "C", "Personne à prévenir en cas d'urgence"),
    ]
    if trust:
        relationship.append(_coded(DMP_RELATIONSHIP, PERSON_OF_TRUST, "Personne de confiance"))
    phone = "+33 6 " + " ".join(f"{rng.randint(0, 99):02d}" for _ in range(4))
    return {
        "resourceType": "RelatedPerson",
        "active": True,
        "patient": subject,
        "relationship": relationship,
        "name": [{"family": rng.choice(_FAMILY), "given": [rng.choice(_FIRST)]}],
        "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
    }
