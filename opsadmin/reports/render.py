"""Turn a report's figures into its artefacts: HTML (inline styles), plain text, CSV and a PNG chart.

Rendering is a pure function of the figures, so the same figures give byte-identical artefacts
(and the same ``content_sha256``): a rebuilt or resent report never differs from the first.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import jinja2
from matplotlib.figure import Figure

from opsadmin.csvsafe import csv_text

CHART_CID = "chart@opsadmin"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Links go to the console's pages by model name; the console checks access itself.
LINK_PATHS = {"referral": "referral", "credential": "credential"}

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
    png: bytes

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for part in (self.subject, self.html, self.text, self.csv):
            digest.update(part.encode())
            digest.update(b"\0")
        digest.update(self.png)
        return digest.hexdigest()


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def points(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} points"


def subject_of(figures: dict[str, Any]) -> str:
    region = figures.get("region") or {}
    title = "Utilisation" if figures["kind"] == "utilisation" else "Follow-up digest"
    return f"{title} {region.get('code', '')} {figures['week']}".replace("  ", " ")


def _html(template: str, figures: dict[str, Any], base_url: str, subject: str) -> str:
    def link(kind: str, entity_id: int) -> str:
        return f"{base_url}/admin/{LINK_PATHS[kind]}/details/?id={int(entity_id)}"

    return _templates.get_template(template).render(
        f=figures,
        subject=subject,
        base_url=base_url,
        pct=pct,
        points=points,
        link=link,
        chart_cid=CHART_CID,
    )


# -- plain text ------------------------------------------------------------------------------


def utilisation_text(f: dict[str, Any], base_url: str) -> str:
    lines = [
        subject_of(f),
        f"Week {f['week']} ({f['from']} to {f['to']})",
        "",
        f"Utilisation {pct(f['utilisation'])} ({f['booked_minutes']} of {f['available_minutes']}"
        f" chair-minutes), {points(f['change']['utilisation'])} on {f['previous']['week']}",
        f"No-show rate {pct(f['no_show_rate'])}: {f['no_show']} no-shows, {f['completed']}"
        f" completed, {f['no_show_minutes']} chair-minutes lost",
        "",
    ]
    for loc in f["locations"]:
        flag = "  DEA REGISTRATION LAPSED" if loc["dea_lapsed"] else ""
        lines.append(
            f"{loc['code']}: {pct(loc['utilisation'])} ({points(loc['change']['utilisation'])}),"
            f" no-show rate {pct(loc['no_show_rate'])}{flag}"
        )
        for room in loc["rooms"]:
            lines.append(
                f"  {room['name']} ({room['capacity']} chairs): {pct(room['utilisation'])},"
                f" {room['booked_minutes']}/{room['available_minutes']} chair-minutes"
            )
    return "\n".join([*lines, "", f"Console: {base_url}/admin/", ""])


def followup_text(f: dict[str, Any], base_url: str) -> str:
    lines = [subject_of(f), f"As of {f['as_of']}", "", "Stalled referrals:"]
    for stage, ids in f["stalled"].items():
        lines.append(f"  {stage}: {len(ids)}" + (f" (#{', #'.join(map(str, ids))})" if ids else ""))
    lines += ["", "Follow-ups due within the week or overdue:"]
    lines += [
        f"  #{item['referral_id']} due {item['due_on']}" + (" OVERDUE" if item["overdue"] else "")
        for item in f["follow_ups"]
    ] or ["  none"]
    lines += [
        "",
        "Funnel, last 90 days (received/consulted/approved/started/completed, conversion):",
    ]
    lines += [
        f"  {r['location']}: {r['received']}/{r['consulted']}/{r['approved']}/{r['started']}"
        f"/{r['completed']}, {pct(r['conversion'])}"
        for r in f["funnel"]
    ]
    lines += ["", "Credentials expiring within 60 days or expired:"]
    lines += [
        f"  site {c['location']} {c['kind']} {c['state']} {c['status']} {c['expires_on']}"
        for c in f["site_registrations"]
    ]
    lines += [
        f"  credential #{c['credential_id']} {c['kind']} {c['state'] or ''} {c['status']} {c['expires_on']}"
        for c in f["staff_credentials"]
    ]
    lines += courses_text(f)
    return "\n".join([*lines, "", f"Console: {base_url}/admin/", ""])


def courses_text(f: dict[str, Any]) -> list[str]:
    """The digest's treatment-course section (started, completed, broken off, median before a break)."""
    lines = [
        "",
        "Treatment courses, last 90 days (started/completed/broken off, median sessions before a break):",
    ]
    for row in f.get("courses", []):
        median = row["median_sessions_before_break"]
        lines.append(
            f"  {row['location']}: {row['started']}/{row['completed']}/{row['broken_off']}, "
            + ("n/a" if median is None else f"{median:g}")
        )
    return lines


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
    for stage, ids in f["stalled"].items():
        rows += [["stalled", "", stage, rid, ""] for rid in ids]
    rows += [["follow_up", "", "referral", i["referral_id"], i["due_on"]] for i in f["follow_ups"]]
    for r in f["funnel"]:
        rows += [["funnel", r["location"], stage, r[stage], ""] for stage in (
            "received", "consulted", "approved", "started", "completed", "conversion")]  # fmt: skip
    rows += [
        ["site_registration", c["location"], c["kind"], c["status"], c["expires_on"]]
        for c in f["site_registrations"]
    ]
    rows += [
        ["staff_credential", "", c["kind"], c["credential_id"], f"{c['status']} {c['expires_on']}"]
        for c in f["staff_credentials"]
    ]
    rows += courses_csv_rows(f)
    return csv_text(rows)


def courses_csv_rows(f: dict[str, Any]) -> list[list[Any]]:
    items = ("started", "completed", "broken_off", "median_sessions_before_break")
    return [
        ["course", r["location"], item, r[item], ""] for r in f.get("courses", []) for item in items
    ]


# -- PNG -------------------------------------------------------------------------------------


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No software/date metadata: the same figures make the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def utilisation_chart(f: dict[str, Any]) -> bytes:
    figure = Figure(figsize=(7.2, 5.6))
    bars, heat = figure.subplots(2, 1, height_ratios=[1, 1.3])
    codes = [loc["code"] for loc in f["locations"]]
    bars.bar(codes, [(loc["utilisation"] or 0) * 100 for loc in f["locations"]], color="#23395d")
    bars.set_ylabel("Utilisation %")
    bars.set_title(f"Utilisation by site, {f['week']}")
    grid = [[(v if v is not None else float("nan")) for v in row] for row in f["heatmap"]]
    image = heat.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=1)
    heat.set_yticks(range(7), WEEKDAYS)
    heat.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    heat.set_title("Occupancy by weekday and local hour")
    figure.colorbar(image, ax=heat, fraction=0.03)
    figure.tight_layout()
    return _png(figure)


def followup_chart(f: dict[str, Any]) -> bytes:
    figure = Figure(figsize=(7.2, 3.2))
    axes = figure.subplots()
    stages = ("received", "consulted", "approved", "started", "completed")
    totals = [sum(row[stage] for row in f["funnel"]) for stage in stages]
    axes.bar(stages, totals, color="#23395d")
    axes.set_title(f"Referral funnel, last 90 days, as of {f['as_of']}")
    figure.tight_layout()
    return _png(figure)


def render(figures: dict[str, Any], base_url: str) -> Artefacts:
    """The artefacts of a utilisation or follow-up report."""
    subject = subject_of(figures)
    if figures["kind"] == "utilisation":
        return Artefacts(
            subject=subject,
            html=_html("reports/email_utilisation.html", figures, base_url, subject),
            text=utilisation_text(figures, base_url),
            csv=utilisation_csv(figures),
            png=utilisation_chart(figures),
        )
    return Artefacts(
        subject=subject,
        html=_html("reports/email_followup.html", figures, base_url, subject),
        text=followup_text(figures, base_url),
        csv=followup_csv(figures),
        png=followup_chart(figures),
    )


def render_credentials(figures: dict[str, Any], base_url: str) -> tuple[str, str, str]:
    """Subject, HTML and text of the daily credential-expiry notice."""
    subject = f"Credentials to renew {figures['region']['code']} {figures['on']}"
    html = _html("reports/email_credentials.html", figures, base_url, subject)
    lines = [subject, ""]
    lines += [
        f"site {c['location']} {c['kind']} {c['state']} {c['change']}, expires {c['expires_on']}"
        for c in figures["site_registrations"]
    ]
    lines += [
        f"credential #{c['credential_id']} {c['kind']} {c['state'] or ''} {c['change']},"
        f" expires {c['expires_on']}"
        for c in figures["staff_credentials"]
    ]
    return subject, html, "\n".join([*lines, "", f"Console: {base_url}/admin/", ""])
