"""Reading the embedded outbox (``instance/outbox/*.eml``) for the console."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class OutboxEntry:
    name: str
    subject: str
    to: str
    date: str
    region: str


def _parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def list_outbox(outbox_dir: str, regions: set[str] | None = None) -> list[OutboxEntry]:
    """The outbox's messages, newest first; ``regions`` (codes) limits them to those regions."""
    folder = Path(outbox_dir)
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = _parse(path)
        region = str(message.get("X-Opsadmin-Region", ""))
        if regions is not None and region not in regions:
            continue
        entries.append(
            OutboxEntry(
                name=path.name,
                subject=str(message.get("Subject", "")),
                to=str(message.get("To", "")),
                date=str(message.get("Date", "")),
                region=region,
            )
        )
    return entries


def read_outbox_message(outbox_dir: str, name: str) -> EmailMessage | None:
    """The message stored as ``name`` (a bare file name: no paths), or None."""
    if "/" in name or "\\" in name or not name.endswith(".eml") or name.startswith("."):
        return None
    path = Path(outbox_dir) / name
    return _parse(path) if path.is_file() else None


def message_parts(message: EmailMessage) -> dict[str, object]:
    """The text and HTML bodies and the attachment names of a message, for display."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
        "attachments": [part.get_filename() for part in message.iter_attachments()],
    }
