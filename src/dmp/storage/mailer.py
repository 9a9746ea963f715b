"""Sending e-mail: the `Mailer` port and its SMTP implementation (standard smtplib)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from ssl import SSLContext
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One plain-text message to one recipient; `message_id` is its stable Message-ID."""

    recipient: str
    subject: str
    body: str
    message_id: str
    date: datetime


class DeliveryError(Exception):
    """The message was not accepted.

    permanent: retrying cannot help (the server refused the recipient or the content
    with a 5xx reply). unreachable: the server could not be reached or refused the
    session (connection, TLS, login, sender address), so other messages would fail
    alike. Otherwise a later attempt may succeed (a 4xx reply, a dropped connection).
    """

    def __init__(self, message: str, *, permanent: bool = False, unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


class Mailer(Protocol):
    """Hands messages to a mail server.

    `send` returns once the server has accepted the message (it is then the server's
    to deliver) and raises DeliveryError otherwise; a mailer may keep its connection
    open between sends. `close` ends the connection, if any; the mailer can be used
    again afterwards (it reconnects on the next send). Not thread-safe: one per worker.
    """

    def send(self, email: OutgoingEmail) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to reach the SMTP server.

    host, port: the server (25 plain relay, 587 submission with STARTTLS, 465 implicit
    TLS); starttls: upgrade the plain connection with STARTTLS, required (a server that
    does not offer it is an error, never a silent fallback to clear text); ssl: implicit
    TLS from the first byte (SMTPS); not both. user/password: AUTH login when a user is
    given (only over TLS unless the server is on the loopback). sender: the From header
    and envelope sender. timeout: seconds for connecting and for each SMTP reply.
    tls_context: the certificates to trust (default: the system's, host name checked).
    """

    host: str
    port: int = 25
    sender: str = "DMP <ne-pas-repondre@localhost>"
    starttls: bool = False
    ssl: bool = False
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0
    tls_context: SSLContext | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("SMTP host is empty")
        if self.starttls and self.ssl:
            raise ValueError("choose STARTTLS or implicit TLS (SSL), not both")
        if self.user and not (self.starttls or self.ssl) and not _is_loopback(self.host):
            raise ValueError("SMTP login without TLS would send the password in clear text")


def _is_loopback(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")


class SmtpMailer:
    """A `Mailer` over SMTP: one connection, opened at the first send, reused until
    `close` or an error (after which the next send reconnects)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def send(self, email: OutgoingEmail) -> None:
        message = self._message(email)
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                raise DeliveryError(_describe(exc), unreachable=True) from exc
        try:
            self._smtp.send_message(message, self._envelope_sender(), [email.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(_describe(exc), permanent=all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPDataError as exc:
            self._drop()
            raise DeliveryError(_describe(exc), permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPSenderRefused as exc:
            self._drop()
            raise DeliveryError(_describe(exc), unreachable=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryError(_describe(exc)) from exc

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = c.tls_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.ssl:
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            smtp.ehlo()
            if c.starttls:
                smtp.starttls(context=context)  # raises SMTPNotSupportedError if not offered
                smtp.ehlo()
            if c.user:
                smtp.login(c.user, c.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _envelope_sender(self) -> str:
        return parseaddr(self.config.sender)[1]

    def _message(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = format_datetime(email.date)
        message["Message-ID"] = email.message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        message.set_content(email.body)
        return message


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(
            f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        return f"recipient refused: {replies}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
