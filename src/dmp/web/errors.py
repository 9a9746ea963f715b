"""The one table from domain errors to the French messages the pages show.

Domain messages are written for developers (English); a page shows the operator a
sentence in French naming the field, and answers HTTP 400.
"""

from __future__ import annotations

from dmp.domain.errors import DomainError
from dmp.domain.records import CHANNEL_LABELS

FIELD_LABELS = {"from": "Du", "to": "Au", "channel": "Canal"}


def french_message(exc: DomainError) -> str:
    """A sentence an operator understands; falls back on the field and the code."""
    if exc.code == "STATS_PERIOD":
        return "La date de début est postérieure à la date de fin : inversez-les ou corrigez-les."
    if exc.code == "CHANNEL":
        choices = ", ".join(f"« {label} »" for label in CHANNEL_LABELS.values())
        return f"Canal inconnu. Choisissez l'un des canaux proposés : {choices}."
    field = FIELD_LABELS.get(exc.field or "", exc.field or "requête")
    return f"Paramètre « {field} » invalide (code {exc.code})."


def bad_date_message(field: str) -> str:
    return (
        f"La date « {FIELD_LABELS[field]} » n'est pas une date valide : "
        "utilisez le format AAAA-MM-JJ, par exemple 2018-11-06."
    )
