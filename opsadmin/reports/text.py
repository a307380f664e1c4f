"""The plain-text parts of the e-mails: aligned columns under 80 characters, one item a line,
its console link on the line below (a terminal or a text-only mail client reads them well)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsadmin.links import console_home
from opsadmin.reports.labels import days_ago, label, plural

Link = Callable[[str, int], str]
RULE = "-" * 72


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def points(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} pts"


def heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def footer() -> list[str]:
    return [
        "",
        RULE,
        f"Console: {console_home()}",
        "Figures only: no patient identifiers or names.",
        "",
    ]


# -- utilisation -----------------------------------------------------------------------------


def _site_row(name: str, f: dict[str, Any], change: str) -> str:
    booked = f"{f['booked_minutes']:,} / {f['available_minutes']:,}"
    return (
        f"{name:<28} {pct(f['utilisation']):>11} {change:>11} {booked:>17}"
        f" {pct(f['no_show_rate']):>8}"
    ).rstrip()


def _sites(f: dict[str, Any]) -> list[str]:
    lines = heading("By site")
    lines.append(
        f"{'Site / room':<24} {'Used':>7} {'Change':>11} {'Booked / open':>17} {'No-show':>8}"
    )
    for loc in f["locations"]:
        lines.append(_site_row(loc["code"], loc, points(loc["change"]["utilisation"])))
        if loc["dea_lapsed"]:
            lines.append("  ! DEA registration lapsed: this capacity is lost")
        for room in loc["rooms"]:
            name = f"  {room['name']} ({plural(room['capacity'], 'chair')})"
            lines.append(_site_row(name[:28], room, ""))
    lines.append("(chair-minutes; no-show = no-shows / (completed + no-shows))")
    return lines


def _trend(f: dict[str, Any]) -> list[str]:
    series = f.get("trend")
    if not series:
        return []
    weeks = [point["week"][-3:] for point in series["weeks"]]
    lines = heading(f"Utilisation, last {len(weeks)} weeks")
    lines.append(f"{'Site':<8}" + "".join(f"{week:>7}" for week in weeks))
    rows = [("Region", series["weeks"])] + [(s["code"], s["weeks"]) for s in series["locations"]]
    for name, points_ in rows:
        cells = "".join(
            f"{'-' if p['utilisation'] is None else format(p['utilisation'] * 100, '.0f') + '%':>7}"
            for p in points_
        )
        lines.append(f"{name:<8}{cells}")
    return lines


def _forecast(f: dict[str, Any]) -> list[str]:
    forecast = f.get("forecast")
    if not forecast:
        return []
    lines = heading("Chair demand ahead (chair-minutes)")
    lines.append(f"{'Week':<10}{'Site':<7}{'Booked':>9}{'Expected':>10}{'Open':>9}  Flag")
    for week in forecast["weeks"]:
        for loc in week["locations"]:
            flag = "SHORTFALL" if loc["shortfall"] else ""
            lines.append(
                f"{week['week']:<10}{loc['location']:<7}{loc['booked_minutes']:>9,}"
                f"{loc['expected_minutes']:>10,}{loc['available_minutes']:>9,}  {flag}".rstrip()
            )
    lines.append("(shortfall: booked + expected above 90% of open chair time)")
    return lines


def utilisation_text(f: dict[str, Any], subject: str) -> str:
    lines = [
        subject,
        f"Week {f['week']}, {f['from']} to {f['to']}",
        "",
        f"Chairs booked {pct(f['utilisation'])} of their open time"
        f" ({f['booked_minutes']:,} of {f['available_minutes']:,} chair-minutes),",
        f"{points(f['change']['utilisation'])} on {f['previous']['week']}.",
        f"No-show rate {pct(f['no_show_rate'])}: {plural(f['no_show'], 'no-show')},"
        f" {f['completed']} completed, {f['no_show_minutes']:,} chair-minutes lost.",
    ]
    lines += _sites(f) + _trend(f) + _forecast(f)
    return "\n".join(lines + footer())


# -- follow-up -------------------------------------------------------------------------------


def _item(line: str, url: str) -> list[str]:
    return [f"  {line}", f"    {url}"]


def _stalled(f: dict[str, Any], link: Link) -> list[str]:
    items = f.get("stalled_items", [])
    lines = heading(f"Stalled referrals ({len(items)})")
    for i in items:
        lines += _item(
            f"#{i['referral_id']:<6} {i['location']:<5} {label(i['stage']):<32}"
            f" {plural(i['days_in_stage'], 'day')} in stage",
            link("referral", i["referral_id"]),
        )
    return lines if items else [*lines, "  none"]


def _follow_ups(f: dict[str, Any], link: Link) -> list[str]:
    lines = heading(f"Follow-ups due within the week or overdue ({len(f['follow_ups'])})")
    for i in f["follow_ups"]:
        late = i["days_overdue"]
        when = f"{plural(late, 'day')} overdue" if late > 0 else f"due {days_ago(-late)}"
        lines += _item(
            f"#{i['referral_id']:<6} {i['location']:<5} due {i['due_on']}  {when}",
            link("referral", i["referral_id"]),
        )
    return lines if f["follow_ups"] else [*lines, "  none"]


def _funnel(f: dict[str, Any]) -> list[str]:
    lines = heading("Referral funnel, last 90 days")
    lines.append(
        f"{'Site':<7}{'Received':>9}{'Consulted':>10}{'Approved':>9}{'Started':>8}"
        f"{'Completed':>10}  Consult-to-treatment"
    )
    for r in f["funnel"]:
        lines.append(
            f"{r['location']:<7}{r['received']:>9}{r['consulted']:>10}{r['approved']:>9}"
            f"{r['started']:>8}{r['completed']:>10}  {pct(r['conversion'])}"
        )
    return lines


def _courses(f: dict[str, Any]) -> list[str]:
    lines = heading("Treatment courses, last 90 days")
    lines.append(
        f"{'Site':<7}{'Started':>8}{'Completed':>10}{'Broken off':>11}  Median sessions before a break"
    )
    for r in f.get("courses", []):
        median = r["median_sessions_before_break"]
        lines.append(
            f"{r['location']:<7}{r['started']:>8}{r['completed']:>10}{r['broken_off']:>11}  "
            + ("n/a" if median is None else f"{median:g}")
        )
    return lines


def _expiry(c: dict[str, Any], change_key: str) -> str:
    """ "expired 2026-11-18 (12 days ago)", "expiring 2026-12-20 (in 20 days)"; the daily
    notice says what changed instead."""
    if change_key == "status":
        return f"{c['status']} {c['expires_on']} ({days_ago(c['days_left'])})"
    return f"{c[change_key]}: last valid day {c['expires_on']} ({days_ago(c['days_left'])})"


def _credential_lines(f: dict[str, Any], link: Link, change_key: str) -> list[str]:
    lines: list[str] = []
    for c in f["site_registrations"]:
        state = f" ({c['state']})" if c.get("state") else ""
        lines += _item(
            f"Site {c['location']}: {label(c['kind'])}{state} {_expiry(c, change_key)}",
            link("site_registration", c["registration_id"]),
        )
    for c in f["staff_credentials"]:
        state = f" ({c['state']})" if c.get("state") else ""
        sites = ", ".join(c["sites"]) or "no site"
        lines += _item(
            f"{c['staff_name']} [{sites}]: {label(c['kind'])}{state} {_expiry(c, change_key)}",
            link("credential", c["credential_id"]),
        )
    return lines


def followup_text(f: dict[str, Any], subject: str, link: Link) -> str:
    lines = [subject, f"As of {f['as_of']}"]
    lines += _stalled(f, link) + _follow_ups(f, link) + _funnel(f)
    count = len(f["site_registrations"]) + len(f["staff_credentials"])
    lines += heading(f"Credentials expiring within 60 days or expired ({count})")
    lines += _credential_lines(f, link, "status") or ["  none"]
    lines += _courses(f)
    return "\n".join(lines + footer())


def credentials_text(f: dict[str, Any], subject: str, link: Link) -> str:
    lines = [subject, f"On {f['on']}, in region {f['region']['code']}:", ""]
    lines += _credential_lines(f, link, "change")
    return "\n".join(lines + footer())
