"""Building a week's report costs the same number of SQL statements for 10 or 10,000
appointments (issue 5, acceptance 5): the work is SQL aggregates, never rows in Python."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.bookings.models import Appointment
from opsadmin.extensions import db
from opsadmin.reports import service
from tests.factories import StaffFactory
from tests.reports.fixtures import WEEK, build_site, day, local


def bulk_appointments(site, count: int) -> None:
    """``count`` two-hour infusions spread over the week's open days, in one executemany."""
    staff = StaffFactory()
    db.session.flush()
    open_days = [day(0), day(1), day(3), day(4)]
    rows = []
    for n in range(count):
        start = local(open_days[n % 4], 8 + n % 8)
        rows.append(
            {
                "external_id": f"BULK-{count}-{n}",
                "location_id": site.location.id,
                "room_id": site.room_a.id,
                "staff_id": staff.id,
                "kind": "infusion",
                "indication": "migraine",
                "patient_ref": f"P-B{n}",
                "starts_at": start,
                "ends_at": start + dt.timedelta(hours=2),
                "status": "completed" if n % 5 else "no_show",
                "created_at": start,
                "updated_at": start,
            }
        )
    db.session.execute(sa.insert(Appointment), rows)
    db.session.commit()


def statements_to_build(session, kind: str) -> tuple[int, dict]:
    executed: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        figures = service.build_figures(session, kind, "IN", WEEK)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(executed), figures


@pytest.mark.parametrize("kind", ["utilisation", "followup"])
def test_statement_count_does_not_grow_with_appointments(session, kind):
    site = build_site()
    session.commit()
    bulk_appointments(site, 10)
    session.expire_all()
    few, small = statements_to_build(session, kind)
    bulk_appointments(site, 10_000)
    session.expire_all()
    many, large = statements_to_build(session, kind)
    assert few == many
    if kind == "utilisation":
        assert large["booked_minutes"] > small["booked_minutes"]
        assert large["completed"] == 8 + 8000
