"""The demo's health profiles (issue 4; RULES R5): realistic, reproducible, and each
resource accepted by the profile's checks and by the FHIR reference implementation."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime

from dmp.domain.profile import ProfileKind, is_person_of_trust, profile_kind
from dmp.domain.profile_validation import check_resource
from dmp.feeds.synthetic.profile import sample_profile
from tests.personas import ALICE, LEO
from tests.profile_builders import assert_valid_fhir

TODAY = date(2018, 11, 30)
NOW = datetime(2018, 11, 30, 18, 0, tzinfo=UTC)


def test_r5_every_sampled_resource_is_a_valid_entry_of_the_patients_profile() -> None:
    for seed in range(60):
        for person in (ALICE, LEO):
            for resource in sample_profile(random.Random(seed), person.ins, TODAY):
                kind = profile_kind(resource["resourceType"])
                assert check_resource(resource, kind, NOW).ins == person.ins
                assert_valid_fhir(resource)
                for key in ("onsetDateTime", "occurrenceDateTime", "effectiveDateTime"):
                    if key in resource:
                        assert person.birth_date.replace(day=1).isoformat() <= resource[key]


def test_r5_a_profile_has_a_blood_group_vaccinations_and_someone_to_call() -> None:
    for seed in range(60):
        profile = sample_profile(random.Random(seed), ALICE.ins, TODAY)
        kinds = Counter(ProfileKind(r["resourceType"]) for r in profile)
        assert kinds[ProfileKind.OBSERVATION] == 1
        assert kinds[ProfileKind.IMMUNIZATION] >= 1
        assert kinds[ProfileKind.RELATED_PERSON] >= 1
        trusted = [
            r for r in profile if r["resourceType"] == "RelatedPerson" and is_person_of_trust(r)
        ]
        assert len(trusted) <= 1  # CSP L1111-6: one person of trust


def test_the_same_seed_draws_the_same_profile_and_the_demo_has_variety() -> None:
    assert sample_profile(random.Random(7), ALICE.ins) == sample_profile(
        random.Random(7), ALICE.ins
    )
    allergies = {
        r["code"]["text"]
        for seed in range(60)
        for r in sample_profile(random.Random(seed), ALICE.ins)
        if r["resourceType"] == "AllergyIntolerance"
    }
    assert "Pénicilline" in allergies
    assert len(allergies) >= 5
