"""A small chain to book into: GRN (Greencastle, Indiana) and CHI (Chicago, Illinois).

GRN has an infusion room of 3 chairs and a consult room; CHI an infusion room. Both are open
Mon–Sun 08:00–18:00 local (so the Sunday DST days are open) and hold a valid DEA registration.
``dr_in`` is a physician licensed in Indiana only, assigned to both sites.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from opsadmin.bookings.models import Appointment
from opsadmin.bookings.service import BookingRequest, book_appointment
from opsadmin.staff.service import ensure_default_rules
from tests.factories import LocationFactory, RegionFactory, RoomFactory, licensed_clinician

INDIANA = ZoneInfo("America/Indiana/Indianapolis")
CHICAGO = ZoneInfo("America/Chicago")
# A Tuesday, in the future of the test run's credentials and registrations.
DAY = dt.date(2026, 12, 1)
EVERY_DAY = [(d, "08:00", "18:00") for d in range(7)]
# A day that has passed, for appointments that were completed or missed (never in the future).
PAST_DAY = dt.date.today() - dt.timedelta(days=7)


def at(day: dt.date, hhmm: str, tz: ZoneInfo = INDIANA) -> dt.datetime:
    """Local wall-clock ``hhmm`` on ``day`` in ``tz``, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=tz)


@dataclass
class Chain:
    grn: object
    chi: object
    infusion: object
    consult: object
    chi_infusion: object
    dr_in: object


@pytest.fixture
def chain(session) -> Chain:
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN", hours=EVERY_DAY)
    chi = LocationFactory(
        code="CHI",
        region=RegionFactory(code="IL", name="Illinois"),
        city="Chicago",
        state="IL",
        timezone="America/Chicago",
        hours=EVERY_DAY,
    )
    chain = Chain(
        grn=grn,
        chi=chi,
        infusion=RoomFactory(location=grn, name="Infusion", kind="infusion", capacity=3),
        consult=RoomFactory(location=grn, name="Consult", kind="consult", capacity=1),
        chi_infusion=RoomFactory(location=chi, name="Infusion", kind="infusion", capacity=3),
        dr_in=licensed_clinician([grn, chi], states=("IN",)),
    )
    session.commit()
    return chain


@pytest.fixture
def book(session, chain):
    """book(**fields) → (appointment, created): an infusion at GRN 09:00–11:00 local unless told.

    Commits around the call as the API does (the service must open its own transaction) and
    rolls back when a rule refuses.
    """
    counter = iter(range(1, 10_000))

    def make(**fields) -> tuple[Appointment, bool]:
        default_id = f"BK-{next(counter)}"
        external_id = fields.pop("external_id", None) or default_id
        values = {
            "external_id": external_id,
            "location": "GRN",
            "room_id": chain.infusion.id,
            "staff_id": chain.dr_in.id,
            "kind": "infusion",
            "indication": "migraine",
            "patient_ref": f"P-{external_id}",  # one patient per booking unless told
            "starts_at": at(DAY, "09:00"),
            "ends_at": at(DAY, "11:00"),
        } | fields
        session.commit()
        try:
            result = book_appointment(session, BookingRequest(**values))
        except Exception:
            session.rollback()
            raise
        session.commit()
        return result

    return make
