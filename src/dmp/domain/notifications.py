"""Notices to the record's holder: their kinds, their French texts, the holder's
contact details, and the retry rule of their delivery (RULES R17, R13, R14, R4).

R17: the holder is told of each professional's first access, of any emergency access
and of documents awaiting an announcement (R13: after 2 weeks). R14: emergency
accesses are notified afterwards. R4: closing and reopening are the holder's own
acts; telling them guards against a change they did not make. New documents are
notified only to holders who opted in.

An e-mail is not a secure channel: the texts say that something happened and where
to look, never what the record contains (no document title or type, no free-text
reason, no INS, no name), and they carry no link, so a phishing copy cannot pass
for one of ours by imitating it. docs/decisions/0006-notifications.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from dmp.domain.access import EmergencyKind
from dmp.domain.errors import InvalidInput
from dmp.domain.time import PARIS


class NoticeKind(StrEnum):
    FIRST_ACCESS = "first_access"
    EMERGENCY_ACCESS = "emergency_access"
    DOCUMENT_AWAITING = "document_awaiting"
    NEW_DOCUMENT = "new_document"
    RECORD_CLOSED = "record_closed"
    RECORD_REOPENED = "record_reopened"
    # R14: the médecin traitant is told of an emergency access too, at their address.
    EMERGENCY_ACCESS_MT = "emergency_access_mt"
    # The portal account's own messages (RULES R19; decision 0007), to the account's address.
    LOGIN_CODE = "login_code"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of message, not a password)
    ACCOUNT_SECURITY = "account_security"


ACCOUNT_KINDS = frozenset(
    {NoticeKind.LOGIN_CODE, NoticeKind.PASSWORD_RESET, NoticeKind.ACCOUNT_SECURITY}
)
# Notices to a professional rather than to the holder (R14: the médecin traitant).
PROFESSIONAL_KINDS = frozenset({NoticeKind.EMERGENCY_ACCESS_MT})
# R17 (and R4, R14): sent to the holder whenever an e-mail is known, whatever their choices.
MANDATORY = frozenset(NoticeKind) - {NoticeKind.NEW_DOCUMENT} - ACCOUNT_KINDS - PROFESSIONAL_KINDS
# Messages carrying a one-time secret, worth sending only while it is valid: the outbox
# erases their body once they leave `pending` (sent, failed) and fails them unsent once
# this long has passed (RULES R19: the secret must not outlast its use; decision 0007).
EPHEMERAL = {
    NoticeKind.LOGIN_CODE: timedelta(minutes=10),
    NoticeKind.PASSWORD_RESET: timedelta(minutes=30),
}
ERASED_BODY = "[effacé : ce message portait un code à usage unique]"


def expired(kind: NoticeKind, created_at: datetime, now: datetime) -> bool:
    """An ephemeral message whose secret is no longer valid: never send it."""
    lifetime = EPHEMERAL.get(kind)
    return lifetime is not None and now >= created_at + lifetime


class NoticeStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) delivery attempt
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # given up: permanent refusal or too many attempts
    UNDELIVERABLE = "undeliverable"  # no e-mail known for the holder when it happened


@dataclass(frozen=True, slots=True)
class Notice:
    """What to tell the holder: a kind and its text, before any addressing."""

    kind: NoticeKind
    subject: str
    body: str


_SIGNATURE = (
    "\n\nCe message ne contient aucun lien : pour en savoir plus, connectez-vous à votre "
    "espace DMP comme d'habitude. Si vous n'êtes pas à l'origine de cette opération ou si "
    "elle vous semble anormale, signalez-la depuis votre espace.\n\n"
    "Message automatique, merci de ne pas y répondre.\n"
    "Dossier Médical Partagé"
)


def _when(at: datetime) -> str:
    """'le 06/11/2018 à 11 h 00' in metropolitan French time."""
    local = at.astimezone(PARIS)
    return f"le {local:%d/%m/%Y} à {local:%H} h {local:%M}"


def _professional(rpps: str, profession_label: str | None) -> str:
    label = (profession_label or "professionnel de santé").lower()
    return f"un professionnel de santé ({label}, RPPS {rpps})"


def first_access(at: datetime, rpps: str, profession_label: str | None) -> Notice:
    """R17: a professional accessed the record for the first time."""
    return Notice(
        NoticeKind.FIRST_ACCESS,
        "DMP : un nouveau professionnel a accédé à votre dossier",
        f"Bonjour,\n\n{_when(at).capitalize()}, {_professional(rpps, profession_label)} a accédé "
        "pour la première fois à votre Dossier Médical Partagé.\n\nVous pouvez consulter "
        "l'historique des accès et, si vous le souhaitez, bloquer ce professionnel depuis "
        "votre espace." + _SIGNATURE,
    )


_EMERGENCY = {
    EmergencyKind.BRIS_DE_GLACE: "en urgence (accès « bris de glace »)",
    EmergencyKind.SAMU: "dans le cadre de la régulation médicale du SAMU (centre 15)",
}


def emergency_access(
    at: datetime, kind: EmergencyKind, rpps: str, profession_label: str | None
) -> Notice:
    """R14, R17: an emergency access, told afterwards. The declared reason stays in
    the access history: it is free text and may describe the holder's condition."""
    return Notice(
        NoticeKind.EMERGENCY_ACCESS,
        "DMP : accès en urgence à votre dossier",
        f"Bonjour,\n\n{_when(at).capitalize()}, {_professional(rpps, profession_label)} a accédé "
        f"à votre Dossier Médical Partagé {_EMERGENCY[kind]}.\n\nLe motif déclaré et la durée "
        "de cet accès figurent dans l'historique des accès de votre espace, où vous pouvez "
        "aussi refuser à l'avenir ce type d'accès." + _SIGNATURE,
    )


def emergency_access_to_doctor(
    at: datetime, kind: EmergencyKind, rpps: str, profession_label: str | None, patient: str
) -> Notice:
    """R14: the médecin traitant learns afterwards that a patient's record was opened in
    an emergency. Sent to the professional's secure messaging address (MSSanté in
    production); it names the patient, as a letter between professionals would, but
    not the stated reason, which stays in the access history."""
    return Notice(
        NoticeKind.EMERGENCY_ACCESS_MT,
        "DMP : accès en urgence au dossier d'un de vos patients",
        f"Bonjour,\n\n{_when(at).capitalize()}, {_professional(rpps, profession_label)} a accédé "
        f"{_EMERGENCY[kind]} au Dossier Médical Partagé de votre patient(e) {patient}, dont "
        "vous êtes le médecin traitant.\n\nLe motif déclaré et la durée de cet accès "
        "figurent dans l'historique des accès du dossier." + _SIGNATURE,
    )


def document_awaiting(at: datetime, visible_from: date) -> Notice:
    """R13, R17: a document hidden until an announcement consultation has waited 2 weeks;
    it becomes visible to the holder on `visible_from` (1 month after it was added)."""
    del at  # the text names the date it becomes visible, not the date of the reminder
    return Notice(
        NoticeKind.DOCUMENT_AWAITING,
        "DMP : un document vous attend",
        "Bonjour,\n\nUn professionnel de santé a ajouté à votre Dossier Médical Partagé un "
        "document qu'il souhaite vous présenter lors d'une consultation. Nous vous invitons "
        "à prendre rendez-vous avec lui.\n\nSans cette consultation, le document vous sera "
        f"accessible à partir du {visible_from:%d/%m/%Y}." + _SIGNATURE,
    )


def new_document(at: datetime) -> Notice:
    """A document was added to the record (sent only to holders who opted in)."""
    return Notice(
        NoticeKind.NEW_DOCUMENT,
        "DMP : un nouveau document dans votre dossier",
        f"Bonjour,\n\n{_when(at).capitalize()}, un document a été ajouté à votre Dossier "
        "Médical Partagé.\n\nVous pouvez le consulter depuis votre espace." + _SIGNATURE,
    )


def record_closed(at: datetime) -> Notice:
    """R4: the record was closed; kept 10 years, within which it can be reopened."""
    return Notice(
        NoticeKind.RECORD_CLOSED,
        "DMP : votre dossier a été fermé",
        f"Bonjour,\n\nVotre Dossier Médical Partagé a été fermé {_when(at)}.\n\nPlus aucun "
        "professionnel ne peut le consulter ni l'alimenter. Il est conservé dix ans, puis "
        "détruit ; vous pouvez le rouvrir pendant cette période." + _SIGNATURE,
    )


def record_reopened(at: datetime) -> Notice:
    """R4: the record was reopened with the holder's consent."""
    return Notice(
        NoticeKind.RECORD_REOPENED,
        "DMP : votre dossier a été rouvert",
        f"Bonjour,\n\nVotre Dossier Médical Partagé a été rouvert {_when(at)}.\n\nLes "
        "professionnels que vous avez autorisés peuvent de nouveau le consulter et "
        "l'alimenter." + _SIGNATURE,
    )


def message_id(notice_id: str) -> str:
    """The e-mail's Message-ID (RFC 5322), fixed when the notice is queued and kept
    across retries, so that a receiving server can drop a resent copy."""
    return f"<{notice_id}@notifications.dmp>"


# --- delivery retries ---

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
DEFAULT_MAX_ATTEMPTS = 12  # 1+2+4+…+32 min, then hourly: about 6 hours of trying


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1 min after the first,
    then 2, 4, 8… capped at 1 h, so a relay that is down for a while is not hammered,
    and is retried within the hour once it is back."""
    exponent = min(max(attempts - 1, 0), 16)
    return min(FIRST_RETRY * (1 << exponent), LONGEST_RETRY)


def retry_at(attempts: int, max_attempts: int, now: datetime) -> datetime | None:
    """When to try again after the `attempts`-th failed attempt, or None to give up:
    after `max_attempts` attempts the notice is failed (kept, never dropped)."""
    if attempts >= max_attempts:
        return None
    return now + retry_delay(attempts)


# --- the holder's contact details ---


@dataclass(frozen=True, slots=True)
class Contact:
    """Where the holder (or a minor's representative) is told of R17 events."""

    ins: str
    email: str | None
    phone: str | None
    notify_new_documents: bool
    updated_at: datetime

    def wants(self, kind: NoticeKind) -> bool:
        """Mandatory notices always; the others only if opted in."""
        return kind in MANDATORY or (kind is NoticeKind.NEW_DOCUMENT and self.notify_new_documents)


# A sane subset of RFC 5321/5322 addresses: dot-atom local part, a dotted host name with
# a letter-only top-level domain, ASCII only (no quoted local parts, no IP literals).
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_PHONE = re.compile(r"(?:0[1-9]\d{8}|\+[1-9]\d{7,14})")


def parse_email(value: str | None, field: str = "email") -> str | None:
    """A trimmed e-mail address (domain lower-cased), None when blank; else InvalidInput."""
    text = (value or "").strip()
    if not text:
        return None
    local, _, domain = text.rpartition("@")
    if len(text) > 254 or len(local) > 64 or not _EMAIL.fullmatch(text):
        raise InvalidInput("EMAIL_SYNTAX", f"{text!r} is not a valid e-mail address", field)
    return f"{local}@{domain.lower()}"


def parse_phone(value: str | None, field: str = "phone") -> str | None:
    """A phone number without separators: French national (0X XX XX XX XX) or
    international (+ and 8 to 15 digits); None when blank; else InvalidInput."""
    text = re.sub(r"[\s.()-]", "", value or "")
    if not text:
        return None
    if not _PHONE.fullmatch(text):
        raise InvalidInput("PHONE_SYNTAX", f"{value!r} is not a valid phone number", field)
    return text
