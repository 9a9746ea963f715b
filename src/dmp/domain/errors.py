"""The domain's errors, each with a stable code and the field it is about.

    DomainError                 base: code, message, field
    ├── InvalidInput            a value is malformed (bad key, unknown department…)
    ├── NotFound                absent, or hidden from the caller (hidden looks absent)
    ├── Conflict                the change clashes with what is stored (duplicate INS…)
    │   └── PreconditionFailed  made on an outdated version (FHIR If-Match)
    ├── Refused                 well-formed, but a rule forbids it (not a beneficiary…)
    └── SeveralErrors           many of the above at once (each entry of a FHIR transaction)

Adapters map these once each (api/outcomes.py, cli) and never invent their own.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule or validation failed; `code` is stable, `field` names the culprit."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, field={self.field!r})"


class InvalidInput(DomainError):
    """A value is malformed."""


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""


class Conflict(DomainError):
    """The change clashes with the stored state."""


class PreconditionFailed(Conflict):
    """The change was made on a version that is no longer the stored one (HTTP 412)."""


class Refused(DomainError):
    """The input is well-formed but a rule forbids the change."""


class SeveralErrors(DomainError):
    """Several errors found together, reported together (all or nothing: issue 4)."""

    def __init__(self, errors: list[DomainError]) -> None:
        if not errors:
            raise ValueError("SeveralErrors needs at least one error")
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = tuple(errors)
