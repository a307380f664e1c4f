"""Turn a report's figures into its artefacts: HTML (inline styles), plain text, CSV and PNG charts.

Rendering is a pure function of the figures (and the console's address), so the same figures give
byte-identical artefacts (and the same ``content_sha256``): a rebuilt or resent report never
differs from the first. Every chart is shown once, inline (``cid:``), with a text alternative;
every link is built from the console's URL map (see ``opsadmin.links``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import jinja2

from opsadmin.csvsafe import csv_text
from opsadmin.links import console_home, external_url
from opsadmin.reports import charts, text
from opsadmin.reports.labels import label, plural

# The console page of each kind of item an e-mail links to (endpoint of its details view).
DETAIL_ENDPOINTS = {
    "referral": "admin_referrals.details_view",
    "credential": "admin_credentials.details_view",
    "site_registration": "admin_site_registrations.details_view",
    "location": "admin_locations.details_view",
    "appointment": "appointments.details_view",
}

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("opsadmin", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Artefacts:
    subject: str
    html: str
    text: str
    csv: str
    charts: tuple[charts.Chart, ...] = ()

    @property
    def png(self) -> bytes:
        """The main chart (the run's PNG download)."""
        return self.charts[0].png if self.charts else b""

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for part in (self.subject, self.html, self.text, self.csv):
            digest.update(part.encode())
            digest.update(b"\0")
        for chart in self.charts:
            digest.update(chart.png)
        return digest.hexdigest()


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def points(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} points"


def subject_of(figures: dict[str, Any]) -> str:
    region = figures.get("region") or {}
    title = "Utilisation" if figures["kind"] == "utilisation" else "Follow-up digest"
    return " ".join(part for part in (title, region.get("code", ""), figures["week"]) if part)


def link(kind: str, entity_id: int) -> str:
    """The console page of one item (referral, credential, site registration, location…)."""
    return external_url(DETAIL_ENDPOINTS[kind], id=int(entity_id))


def _html(template: str, figures: dict[str, Any], subject: str, chart_list=()) -> str:
    return _templates.get_template(template).render(
        f=figures,
        subject=subject,
        home=console_home(),
        pct=pct,
        points=points,
        link=link,
        label=label,
        plural=plural,
        charts={chart.name: chart for chart in chart_list},
    )


def for_browser(html: str, chart_list: tuple[charts.Chart, ...] | list[charts.Chart]) -> str:
    """The e-mail's HTML with its ``cid:`` images as data: URIs, for showing it in the console."""
    for chart in chart_list:
        encoded = base64.b64encode(chart.png).decode()
        html = html.replace(f"cid:{chart.cid}", f"data:image/png;base64,{encoded}")
    return html


# -- CSV -------------------------------------------------------------------------------------

UTILISATION_COLUMNS = (
    "level", "location", "room", "capacity", "available_minutes", "booked_minutes",
    "utilisation", "completed", "no_show", "no_show_rate", "no_show_minutes", "dea_lapsed",
)  # fmt: skip


def _figures_row(level: str, loc: str, room: str, capacity: Any, f: dict[str, Any], lapsed: Any):
    keys = ("available_minutes", "booked_minutes", "utilisation", "completed", "no_show")
    tail = ("no_show_rate", "no_show_minutes")
    return [level, loc, room, capacity, *[f[k] for k in keys], *[f[k] for k in tail], lapsed]


def utilisation_csv(f: dict[str, Any]) -> str:
    region = (f.get("region") or {}).get("code", "")
    rows: list[list[Any]] = [
        list(UTILISATION_COLUMNS),
        _figures_row("region", region, "", "", f, ""),
    ]
    for loc in f["locations"]:
        rows.append(_figures_row("location", loc["code"], "", "", loc, loc["dea_lapsed"]))
        for room in loc["rooms"]:
            rows.append(_figures_row("room", loc["code"], room["name"], room["capacity"], room, ""))
    return csv_text(rows)


def followup_csv(f: dict[str, Any]) -> str:
    rows: list[list[Any]] = [["section", "location", "item", "value", "detail"]]
    for item in f.get("stalled_items", []):
        rows.append(["stalled", item["location"], item["stage"], item["referral_id"],
                     f"{item['days_in_stage']} days in stage"])  # fmt: skip
    rows += [
        ["follow_up", i.get("location", ""), "referral", i["referral_id"], i["due_on"]]
        for i in f["follow_ups"]
    ]
    for r in f["funnel"]:
        rows += [["funnel", r["location"], stage, r[stage], ""] for stage in (
            "received", "consulted", "approved", "started", "completed", "conversion")]  # fmt: skip
    rows += [
        ["site_registration", c["location"], c["kind"], c["status"], c["expires_on"]]
        for c in f["site_registrations"]
    ]
    rows += [
        [
            "staff_credential",
            " ".join(c.get("sites", [])),
            c["kind"],
            c["credential_id"],
            f"{c['status']} {c['expires_on']}",
        ]
        for c in f["staff_credentials"]
    ]
    rows += courses_csv_rows(f)
    return csv_text(rows)


def courses_csv_rows(f: dict[str, Any]) -> list[list[Any]]:
    items = ("started", "completed", "broken_off", "median_sessions_before_break")
    return [
        ["course", r["location"], item, r[item], ""] for r in f.get("courses", []) for item in items
    ]


# -- the reports -----------------------------------------------------------------------------


def render(figures: dict[str, Any]) -> Artefacts:
    """The artefacts of a utilisation or follow-up report (inside an app context: links)."""
    subject = subject_of(figures)
    if figures["kind"] == "utilisation":
        made = charts.utilisation_charts(figures)
        return Artefacts(
            subject=subject,
            html=_html("reports/email_utilisation.html", figures, subject, made),
            text=text.utilisation_text(figures, subject),
            csv=utilisation_csv(figures),
            charts=made,
        )
    made = charts.followup_charts(figures)
    return Artefacts(
        subject=subject,
        html=_html("reports/email_followup.html", figures, subject, made),
        text=text.followup_text(figures, subject, link),
        csv=followup_csv(figures),
        charts=made,
    )


def render_credentials(figures: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, HTML and text of the daily credential-expiry notice."""
    subject = f"Credentials to renew {figures['region']['code']} {figures['on']}"
    html = _html("reports/email_credentials.html", figures, subject)
    return subject, html, text.credentials_text(figures, subject, link)
