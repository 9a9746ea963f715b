"""Who acts on the system. Authentication (who proves to be whom) lives in the
adapters; the domain only sees the resulting Actor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PATIENT = "patient"
    REPRESENTATIVE = "representative"
    PROFESSIONAL = "professional"
    INSURER_AGENT = "insurer_agent"
    OPERATOR = "operator"
    SYSTEM = "system"
    COMPLEMENTARY_INSURER = "complementary_insurer"  # R15: never
    EMPLOYER = "employer"  # R15: never
    OCCUPATIONAL_DOCTOR = "occupational_doctor"  # issue 3: never reads content
    ANONYMOUS = "anonymous"  # an unauthenticated caller: traced, never trusted


@dataclass(frozen=True, slots=True)
class Actor:
    role: Role
    id: str
    profession: str | None = None
    organisation: str | None = None


SYSTEM = Actor(Role.SYSTEM, "dmp")
ANONYMOUS = Actor(Role.ANONYMOUS, "anonymous")
