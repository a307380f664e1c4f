"""What a change of an appointment means to the event feed (appointment.created / .updated).

The data is the appointment as ``GET /api/v1/appointments/{external_id}`` returns it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from opsadmin.bookings.models import Appointment
from opsadmin.events.service import watch


def describe_appointment(
    session: Session, appointment: Appointment, change: str
) -> Iterable[tuple[str, dict[str, Any]]]:
    from opsadmin.bookings.schemas import AppointmentSchema

    if change == "delete":
        return []
    kind = "appointment.created" if change == "create" else "appointment.updated"
    return [(kind, AppointmentSchema().dump(appointment))]


def watch_changes() -> None:
    watch(Appointment, describe_appointment)
