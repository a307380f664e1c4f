"""Reading the embedded outbox (``instance/outbox/*.eml``) for the console."""

from __future__ import annotations

import base64
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
    """The text and HTML bodies and the attachments (position, file name) of a message, for
    display; the HTML's ``cid:`` images are inlined as ``data:`` URIs so a frame shows them."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "text": text.get_content() if text is not None else "",
        "html": inline_images(message, html.get_content()) if html is not None else "",
        "attachments": [
            (index, part.get_filename() or f"attachment-{index}")
            for index, part in enumerate(message.iter_attachments())
        ],
    }


def inline_images(message: EmailMessage, html: str) -> str:
    """``html`` with each ``cid:`` reference to an image of the message replaced by its data."""
    for part in message.walk():
        cid = str(part.get("Content-ID", "")).strip().strip("<>")
        if not cid or part.get_content_maintype() != "image":
            continue
        data = base64.b64encode(part.get_payload(decode=True) or b"").decode("ascii")
        html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return html


def attachment(message: EmailMessage, index: int) -> tuple[str, str, bytes] | None:
    """The file name, content type and bytes of the message's ``index``-th attachment."""
    parts = list(message.iter_attachments())
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    name = part.get_filename() or f"attachment-{index}"
    return name, part.get_content_type(), part.get_payload(decode=True) or b""
