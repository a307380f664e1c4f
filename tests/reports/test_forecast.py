"""The demand forecast: figures worked out by hand on a small chain, the API's contract, and a
statement count that does not grow with the referrals.

The chain: GRN (Indiana) open Monday and Wednesday 08:00–12:00 local, one infusion room of two
chairs (an inactive room of five and a consult room do not count). Weeks 2026-W50..W52; a holiday
closes GRN on Wednesday 16 December (W51).

Available (as the utilisation report counts it): 2 days × 240 min × 2 chairs = 960 a week;
W51 loses its Wednesday: 480.

Booked (infusions not cancelled): W50 two of 120 min → 240 (a cancelled one and a consult do not
count); W51 one of 180 min → 180.

Expected (sessions not yet booked × 120, three a week from W50):
  R1 approved, 6 planned, 1 booked → 5 left: W50 3, W51 2;
  R2 in treatment, 6 planned, 4 completed → 2 left: W50 2;
  R3 treatment scheduled, 3 planned → 3 left: W50 3;
  R5 approved, 1 planned, its one booking cancelled → 1 left: W50 1;
  R4 declined and R6 (another region's site) do not count.
  W50: 9 × 120 = 1080; W51: 2 × 120 = 240; W52: 0.

Shortfall (booked + expected > 90 % of available):
  W50 240 + 1080 = 1320 > 864 → yes; W51 180 + 240 = 420 ≤ 432 → no; W52 0 → no.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from opsadmin import models as m
from opsadmin.extensions import db
from opsadmin.reports.forecast import forecast_for_region
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
)

TZ = ZoneInfo("America/Indiana/Indianapolis")
FIRST = "2026-W50"


def local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ).astimezone(dt.UTC)


MON_W50, MON_W51 = dt.date(2026, 12, 7), dt.date(2026, 12, 14)


@pytest.fixture
def chain(session):
    region = RegionFactory(code="IN", name="Indiana")
    site = LocationFactory(
        code="GRN", region=region, hours=[(0, "08:00", "12:00"), (2, "08:00", "12:00")]
    )
    site.closures.append(
        m.LocationClosure(
            starts_on=dt.date(2026, 12, 16), ends_on=dt.date(2026, 12, 16), reason="Holiday"
        )
    )
    room = RoomFactory(location=site, name="A", capacity=2)
    RoomFactory(location=site, name="Old", capacity=5, active=False)
    consult = RoomFactory(location=site, name="Consult", kind="consult", capacity=1)
    other = LocationFactory(code="CHI", region=RegionFactory(code="IL", name="Illinois"))

    r1 = ReferralFactory(consult_location=site, status="approved", planned_sessions=6)
    ReferralFactory(
        consult_location=site, status="in_treatment", planned_sessions=6, sessions_completed=4
    )
    ReferralFactory(consult_location=site, status="treatment_scheduled", planned_sessions=3)
    ReferralFactory(consult_location=site, status="declined", planned_sessions=6)
    r5 = ReferralFactory(consult_location=site, status="approved", planned_sessions=1)
    ReferralFactory(consult_location=other, status="approved", planned_sessions=6)

    AppointmentFactory(
        room=room, referral=r1, starts_at=local(MON_W50, 8), ends_at=local(MON_W50, 10)
    )
    AppointmentFactory(room=room, starts_at=local(MON_W50, 10), ends_at=local(MON_W50, 12))
    AppointmentFactory(
        room=room,
        referral=r5,
        status="cancelled",
        starts_at=local(MON_W50, 8),
        ends_at=local(MON_W50, 10),
    )
    AppointmentFactory(
        room=consult, kind="consult", starts_at=local(MON_W50, 8), ends_at=local(MON_W50, 9)
    )
    AppointmentFactory(room=room, starts_at=local(MON_W51, 8), ends_at=local(MON_W51, 11))
    session.commit()
    return site


def figures(body: dict) -> dict[str, tuple]:
    return {
        week["week"]: tuple(
            (
                loc["location"],
                loc["booked_minutes"],
                loc["expected_minutes"],
                loc["available_minutes"],
                loc["shortfall"],
            )
            for loc in week["locations"]
        )
        for week in body["weeks"]
    }


def test_figures_worked_out_by_hand(session, chain):
    forecast = forecast_for_region(session, "IN", 3, FIRST)
    assert forecast["region"] == "IN"
    assert figures(forecast) == {
        "2026-W50": (("GRN", 240, 1080, 960, True),),
        "2026-W51": (("GRN", 180, 240, 480, False),),  # the holiday week
        "2026-W52": (("GRN", 0, 0, 960, False),),
    }


def test_infusion_minutes_come_from_configuration(app, session, chain):
    app.config["OPSADMIN_INFUSION_MINUTES"] = 90
    forecast = forecast_for_region(session, "IN", 2, FIRST)
    assert [w["locations"][0]["expected_minutes"] for w in forecast["weeks"]] == [810, 180]


def test_available_minutes_are_the_utilisation_reports(session, chain):
    from opsadmin.reports.utilisation import utilisation_for_location

    forecast = forecast_for_region(session, "IN", 2, FIRST)
    for week in forecast["weeks"]:
        report = utilisation_for_location(session, week["week"], "GRN")
        assert week["locations"][0]["available_minutes"] == report["available_minutes"]


def test_api_contract(client, api_headers, session, chain):
    response = client.get("/api/v1/forecast?region=IN&weeks=2", headers=api_headers("read"))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"region", "weeks"} and body["region"] == "IN"
    assert len(body["weeks"]) == 2
    today = dt.date.today()
    assert body["weeks"][0]["week"] == "{}-W{:02d}".format(
        *(today + dt.timedelta(days=7)).isocalendar()[:2]
    )
    assert set(body["weeks"][0]) == {"week", "locations"}
    assert set(body["weeks"][0]["locations"][0]) == {
        "location",
        "booked_minutes",
        "expected_minutes",
        "available_minutes",
        "shortfall",
    }
    default = client.get("/api/v1/forecast?region=IN", headers=api_headers("read"))
    assert len(default.get_json()["weeks"]) == 4


@pytest.mark.parametrize(
    ("query", "status"),
    [("region=XX", 404), ("region=IN&weeks=0", 422), ("region=IN&weeks=27", 422), ("", 422)],
)
def test_api_refuses_bad_queries(client, api_headers, session, chain, query, status):
    response = client.get(f"/api/v1/forecast?{query}", headers=api_headers("read"))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_api_needs_a_key(client, session, chain):
    assert client.get("/api/v1/forecast?region=IN").status_code == 401


def _approved_referrals(site, count: int) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "patient_ref": f"P-F{count}-{n}",
            "indication": "migraine",
            "referring_provider_name": "Dr Neuro Logist",
            "referring_provider_npi": "1234567893",
            "referring_provider_practice": "Putnam Neurology",
            "received_on": dt.date(2026, 11, 1),
            "consult_location_id": site.id,
            "treatment_location_id": site.id,
            "planned_sessions": 1 + n % 6,
            "sessions_completed": 0,
            "status": "approved",
            "status_changed_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    db.session.execute(sa.insert(m.Referral), rows)
    db.session.commit()


def _statements(session) -> tuple[int, dict]:
    executed: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        forecast = forecast_for_region(session, "IN", 4, FIRST)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(executed), forecast


def test_statement_count_is_the_same_for_10_and_1000_approved_referrals(session, chain):
    _approved_referrals(chain, 10)
    session.expire_all()
    few, small = _statements(session)
    _approved_referrals(chain, 1000)
    session.expire_all()
    many, large = _statements(session)
    assert few == many
    first = lambda body: body["weeks"][0]["locations"][0]["expected_minutes"]  # noqa: E731
    assert first(large) > first(small)
