"""E-mail: build a message (text + HTML + inline images + attachments) and send it.

Sending needs no app context: the caller passes :class:`MailSettings` (from the app's config).
With no SMTP host configured, messages are written to the outbox folder as ``.eml`` files
(the embedded default; the console lists them).
"""

from __future__ import annotations

import email.policy
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from opsadmin.db import utcnow


@dataclass(frozen=True)
class MailSettings:
    """Where and how e-mail goes: SMTP when ``host`` is set, else the outbox folder."""

    host: str | None = None
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    mail_from: str = "opsadmin@localhost"
    outbox_dir: str = "instance/outbox"
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(
            host=config.get("SMTP_HOST") or None,
            port=int(config.get("SMTP_PORT") or 25),
            user=config.get("SMTP_USER") or None,
            password=config.get("SMTP_PASSWORD") or None,
            starttls=bool(config.get("SMTP_STARTTLS")),
            mail_from=config.get("MAIL_FROM") or "opsadmin@localhost",
            outbox_dir=str(config.get("OPSADMIN_OUTBOX_DIR") or "instance/outbox"),
            timeout=float(config.get("OPSADMIN_SMTP_TIMEOUT") or 10),
        )

    @property
    def uses_outbox(self) -> bool:
        return not self.host


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML part shows with ``<img src="cid:{cid}">``."""

    cid: str
    content: bytes
    subtype: str = "png"


@dataclass
class Mail:
    subject: str
    to: str
    text: str
    html: str | None = None
    message_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    inline_images: Sequence[InlineImage] = ()
    attachments: Sequence[Attachment] = ()


def build_message(mail: Mail, settings: MailSettings) -> EmailMessage:
    """A MIME message: text, then HTML with its inline images (multipart/related), then attachments."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = mail.subject
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Date"] = format_datetime(utcnow())
    if mail.message_id:
        message["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
        html_part = message.get_payload()[-1]
        for image in mail.inline_images:
            html_part.add_related(
                image.content, "image", image.subtype, cid=f"<{image.cid}>", disposition="inline"
            )
    for attachment in mail.attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message


def send(message: EmailMessage, settings: MailSettings) -> str:
    """Hand the message to the SMTP server (or the outbox); return where it went.

    Returning normally means the server accepted it: the caller records "sent" only then.
    """
    if settings.uses_outbox:
        return str(write_outbox(message, Path(settings.outbox_dir)))
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)
    return f"smtp://{settings.host}:{settings.port}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_outbox(message: EmailMessage, outbox: Path) -> Path:
    """Write ``message`` as ``<utc timestamp>-<message id>.eml``; the same Message-ID overwrites."""
    outbox.mkdir(parents=True, exist_ok=True)
    message_id = _UNSAFE.sub("_", (message["Message-ID"] or "").strip("<>")) or "message"
    existing = sorted(outbox.glob(f"*-{message_id}.eml"))
    path = existing[0] if existing else outbox / f"{utcnow():%Y%m%dT%H%M%S%f}-{message_id}.eml"
    path.write_bytes(message.as_bytes())
    return path
