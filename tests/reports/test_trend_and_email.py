"""The utilisation e-mail's 8-week trend, its heat map over open hours, and its copy.

The trend of 2026-W45 covers W38..W45. W44 is the fixtures' hand-computed week (a holiday on
Wednesday, a two-hour maintenance of the one-chair room B on Tuesday, DST ending on Sunday):
available 2640 × 3 + (2640 − 120) = 10,440, booked 360 + 60 = 420. W43 holds one completed
two-hour infusion: booked 120. A full week is 3240 open minutes × 4 chairs = 12,960.
"""

from __future__ import annotations

import datetime as dt

import pytest

from opsadmin.reports import service
from opsadmin.reports.charts import open_hours
from opsadmin.reports.utilisation import utilisation_for_region
from tests.factories import CredentialFactory, StaffFactory
from tests.reports.fixtures import WEEK, build_week

FULL_WEEK = 3240 * 4


@pytest.fixture
def site(session):
    site = build_week()
    session.commit()
    return site


def test_trend_covers_eight_weeks_with_the_closure_week_right(session, site):
    figures = utilisation_for_region(session, "2026-W45", "IN")
    region = figures["trend"]["weeks"]
    assert [p["week"] for p in region] == [f"2026-W{n}" for n in range(38, 46)]
    by_week = {p["week"]: p for p in figures["trend"]["locations"][0]["weeks"]}
    assert figures["trend"]["locations"][0]["code"] == "GRN"
    assert (by_week["2026-W44"]["available_minutes"], by_week["2026-W44"]["booked_minutes"]) == (
        10440,
        420,
    )
    assert by_week["2026-W44"]["utilisation"] == round(420 / 10440, 4)
    assert (by_week["2026-W43"]["available_minutes"], by_week["2026-W43"]["booked_minutes"]) == (
        FULL_WEEK,
        120,
    )
    for week in ("2026-W38", "2026-W42", "2026-W45"):
        assert by_week[week]["available_minutes"] == FULL_WEEK
        assert by_week[week]["booked_minutes"] == 0
    # The week's own figures are the trend's last point.
    assert region[-1]["available_minutes"] == figures["available_minutes"]


def test_trend_of_the_report_week_matches_its_own_report(session, site):
    week44 = utilisation_for_region(session, WEEK, "IN")
    later = utilisation_for_region(session, "2026-W47", "IN")
    point = next(p for p in later["trend"]["weeks"] if p["week"] == WEEK)
    assert point["available_minutes"] == week44["available_minutes"]
    assert point["booked_minutes"] == week44["booked_minutes"]


def test_heat_map_covers_only_the_hours_a_site_is_open(session, site):
    figures = utilisation_for_region(session, WEEK, "IN")
    assert open_hours(figures["heatmap"]) == range(8, 18)  # 08:00–18:00 local
    _, artefacts = service.build_artefacts(session, "utilisation", "IN", WEEK)
    occupancy = next(c for c in artefacts.charts if c.name == "occupancy-by-hour")
    assert "08:00 to 18:00" in occupancy.alt


def test_utilisation_email_copy(session, site):
    _, artefacts = service.build_artefacts(session, "utilisation", "IN", WEEK)
    for part in (artefacts.html, artefacts.text):
        assert "B (1 chair)" in part and "A (3 chairs)" in part
        assert "1 chairs" not in part
    # Each chart under its own heading, once, with its text.
    html = artefacts.html
    assert html.index("Utilisation by site</h2>") < html.index("cid:utilisation-by-site@")
    assert html.index("cid:utilisation-by-site@") < html.index("Occupancy by weekday and hour")
    assert html.index("Occupancy by weekday and hour") < html.index("cid:occupancy-by-hour@")
    names = [c.name for c in artefacts.charts]
    assert names == [
        "utilisation-by-site",
        "occupancy-by-hour",
        "utilisation-trend",
        "demand-forecast",
    ]
    for chart in artefacts.charts:
        assert html.count(f"cid:{chart.cid}") == 1 and chart.alt
        assert f'alt="{chart.alt}"' in html
    assert "Utilisation, last 8 weeks" in artefacts.text
    assert "Chair demand ahead" in artefacts.text
    assert max(len(line) for line in artefacts.text.splitlines()) <= 80


def test_followup_email_copy(session, site):
    staff = StaffFactory(locations=[site.location], name="Dr Ada Byrne")
    CredentialFactory(staff=staff, kind="acls", state=None, expires_on=dt.date(2026, 11, 1))
    session.commit()
    _, artefacts = service.build_artefacts(session, "followup", "IN", WEEK)
    text = artefacts.text
    assert "Dr Ada Byrne [GRN]: ACLS expired 2026-11-01" in text
    assert "Consult-to-treatment" in text and "Consult-to-treatment conversion" in artefacts.html
    for line in text.splitlines():
        if "ACLS" in line:
            assert "  " not in line.strip()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert [c.name for c in artefacts.charts] == ["referral-funnel"]
