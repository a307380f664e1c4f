"""The console's outbox (embedded mode): the HTML part rendered in a sandboxed frame with its
inline images, the attachments as working downloads (audited), and "Outbox" said once."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from opsadmin.notifications.mail import (
    Attachment,
    InlineImage,
    Mail,
    MailSettings,
    build_message,
    write_outbox,
)
from tests.console_forms import events, sign_in

PNG = b"\x89PNG\r\n\x1a\n fake chart"
CSV = b"site,utilisation\r\nGRN,0.5\r\n"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": None, "SMTP_HOST": None}


@pytest.fixture
def stored(app) -> str:
    mail = Mail(
        subject="Utilisation IN 2026-W44",
        to="lead@example.org",
        text="Utilisation, plain text",
        html='<!DOCTYPE html><html><body><h1 style="color:#23395d">Utilisation</h1>'
        '<script>alert(1)</script><img src="cid:chart@opsadmin" alt="chart"></body></html>',
        message_id="<m1@opsadmin>",
        headers={"X-Opsadmin-Region": "IN"},
        inline_images=[InlineImage("chart@opsadmin", PNG)],
        attachments=[Attachment("utilisation-IN-2026-W44.csv", CSV, "text", "csv")],
    )
    message = build_message(mail, MailSettings.from_config(app.config))
    return write_outbox(message, Path(app.config["OPSADMIN_OUTBOX_DIR"])).name


def test_html_part_renders_in_a_sandboxed_frame_with_its_images(client, auth, stored):
    sign_in(auth)
    page = client.get(f"/admin/outbox/{stored}").get_data(as_text=True)
    frame = re.search(r"<iframe[^>]*>", page).group(0)
    assert re.search(r"\ssandbox[\s>]", frame) and "allow-scripts" not in frame
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
    assert srcdoc.startswith("<!DOCTYPE html>") and '<h1 style="color:#23395d">' in srcdoc
    assert "cid:" not in srcdoc and 'src="data:image/png;base64,' in srcdoc
    assert "<script>alert(1)</script>" not in page  # the message's markup never reaches the page


def test_attachments_are_links_that_download_and_are_audited(client, auth, stored):
    user = sign_in(auth)
    page = client.get(f"/admin/outbox/{stored}").get_data(as_text=True)
    links = re.findall(r'<a [^>]*href="(/admin/outbox/[^"]+/attachments/\d+)"', page)
    assert len(links) == 1
    download = client.get(links[0])
    assert download.status_code == 200 and download.data == CSV
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="utilisation-IN-2026-W44.csv"'
    )
    [event] = events("Outbox", "export")
    assert event.actor_label == user.email and event.detail == "utilisation-IN-2026-W44.csv"
    assert client.get(f"/admin/outbox/{stored}/attachments/5").status_code == 404


def test_outbox_names_itself_once(client, auth, stored):
    sign_in(auth)
    page = client.get("/admin/outbox/").get_data(as_text=True)
    body = page.split("</nav>", 1)[1]  # the page, after the menu (which names it too)
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", body, flags=re.S))
    assert visible.count("Outbox") == 1, visible.count("Outbox")
