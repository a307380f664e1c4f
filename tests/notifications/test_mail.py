"""E-mail building and the embedded outbox."""

from __future__ import annotations

from opsadmin.notifications.mail import (
    Attachment,
    InlineImage,
    Mail,
    MailSettings,
    build_message,
    send,
)
from opsadmin.notifications.outbox import list_outbox, message_parts, read_outbox_message


def mail(message_id: str = "<m-1@example.org>") -> Mail:
    return Mail(
        subject="Utilisation IN 2026-W44",
        to="lead@example.org",
        text="figures",
        html="<p>figures</p><img src='cid:chart@x'>",
        message_id=message_id,
        headers={"X-Opsadmin-Region": "IN"},
        inline_images=[InlineImage("chart@x", b"\x89PNG")],
        attachments=[Attachment("r.csv", b"a,b\n", "text", "csv")],
    )


def test_message_has_text_html_inline_image_and_attachment():
    message = build_message(mail(), MailSettings(mail_from="ops@example.org"))
    types = [part.get_content_type() for part in message.walk()]
    assert {"text/plain", "text/html", "image/png", "text/csv"} <= set(types)
    assert message["Message-ID"] == "<m-1@example.org>"
    assert message["From"] == "ops@example.org"


def test_without_smtp_host_the_message_goes_to_the_outbox_once_per_message_id(tmp_path):
    settings = MailSettings(outbox_dir=str(tmp_path))
    send(build_message(mail(), settings), settings)
    send(build_message(mail(), settings), settings)  # a retry of the same message
    send(build_message(mail("<m-2@example.org>"), settings), settings)
    entries = list_outbox(str(tmp_path))
    assert len(entries) == 2
    assert list_outbox(str(tmp_path), regions={"IL"}) == []
    message = read_outbox_message(str(tmp_path), entries[0].name)
    assert message_parts(message)["attachments"] == [(0, "r.csv")]


def test_outbox_reader_refuses_paths(tmp_path):
    assert read_outbox_message(str(tmp_path), "../secret.eml") is None
    assert read_outbox_message(str(tmp_path), "x.txt") is None


def test_settings_from_config():
    settings = MailSettings.from_config(
        {"SMTP_HOST": "smtp.example.org", "SMTP_PORT": 587, "SMTP_STARTTLS": True, "SMTP_USER": "u"}
    )
    assert (settings.host, settings.port, settings.starttls, settings.user) == (
        "smtp.example.org", 587, True, "u"
    )  # fmt: skip
    assert not settings.uses_outbox
