"""Health-profile resources as a client sends them (issue 4; RULES R5): one builder per
kind, each valid as built; keyword arguments replace or add elements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from dmp.domain.profile import DMP_RELATIONSHIP, PERSON_OF_TRUST, ProfileKind
from tests.personas import ALICE

INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
O_POSITIVE = "278147001"


def patient(ins: str = ALICE.ins) -> dict[str, Any]:
    return {"reference": f"Patient/{ins}", "identifier": {"system": INS_NIR, "value": ins}}


def allergy(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    """Allergic to penicillin, with anaphylaxis."""
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": {"coding": [{"system": SNOMED, "code": "764146007"}], "text": "Pénicilline"},
        "patient": patient(ins),
        "onsetDateTime": "2004-05",
        "reaction": [{"manifestation": [{"text": "Choc anaphylactique"}], "severity": "severe"}],
        **changes,
    }


def blood_group(ins: str = ALICE.ins, group: str = O_POSITIVE, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "882-1"}], "text": "Groupe sanguin"},
        "subject": patient(ins),
        "effectiveDateTime": "2010-02-03",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": group}]},
        **changes,
    }


def condition(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": "195967001"}], "text": "Asthme"},
        "subject": patient(ins),
        "onsetDateTime": "1999",
        **changes,
    }


def immunization(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": "http://www.whocc.no/atc", "code": "J07CA01"}],
            "text": "dTPolio (rappel adulte)",
        },
        "patient": patient(ins),
        "occurrenceDateTime": "2010-03-14",
        "lotNumber": "K1234",
        **changes,
    }


def emergency_contact(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "RelatedPerson",
        "patient": patient(ins),
        "relationship": [{"coding": [{"system": V2_0131, "code": "C"}]}],
        "name": [{"family": "Martin", "given": ["Paul"]}],
        "telecom": [{"system": "phone", "value": "+33 6 12 34 56 78"}],
        **changes,
    }


def person_of_trust(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    trust = {
        "relationship": [{"coding": [{"system": DMP_RELATIONSHIP, "code": PERSON_OF_TRUST}]}],
        "name": [{"family": "Durand", "given": ["Claire"]}],
    }
    return emergency_contact(ins, **{**trust, **changes})


BUILDERS: dict[ProfileKind, Callable[..., dict[str, Any]]] = {
    ProfileKind.ALLERGY_INTOLERANCE: allergy,
    ProfileKind.OBSERVATION: blood_group,
    ProfileKind.CONDITION: condition,
    ProfileKind.IMMUNIZATION: immunization,
    ProfileKind.RELATED_PERSON: emergency_contact,
}


def assert_valid_fhir(resource: dict[str, Any]) -> None:
    """The reference implementation (fhir.resources, FHIR R4B) accepts `resource`."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
