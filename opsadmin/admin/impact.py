"""Impact before saving: the console's closure, room and credential forms show the bookings a
change would put at risk and save only once the user confirms (see ``MasterDataView.impact``).

The judging lives in :mod:`opsadmin.bookings.impact`; this module connects it to the views of
the features below bookings (which must not import it) and presents the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask_admin import Admin
from sqlalchemy.orm import Session

from opsadmin.bookings import impact
from opsadmin.bookings.models import Appointment
from opsadmin.locations.models import Location, LocationClosure
from opsadmin.locations.service import local_date, zone
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.models import Credential, StaffMember


def present(appointments: list[Appointment]) -> list[dict[str, Any]]:
    """The rows the confirmation lists: booking id, site time, room, clinician, with links' keys."""
    rows = []
    for appointment in appointments:
        location = appointment.location
        tz = zone(location.timezone)
        starts, ends = appointment.starts_at.astimezone(tz), appointment.ends_at.astimezone(tz)
        rows.append(
            {
                "id": appointment.id,
                "external_id": appointment.external_id,
                "starts_at": appointment.starts_at.isoformat(),
                "site_time": f"{starts:%a %d %b %Y %H:%M}–{ends:%H:%M} {starts:%Z}",
                "location": location.code,
                "date": local_date(location, appointment.starts_at).isoformat(),
                "room": appointment.room.name,
                "clinician": appointment.staff.name,
                "kind": appointment.kind.replace("_", " "),
                "status": appointment.status.replace("_", " "),
            }
        )
    return rows


def location_closure_impact(session: Session, closure: LocationClosure) -> list[dict[str, Any]]:
    if closure.location is None or closure.starts_on is None or closure.ends_on is None:
        return []
    return present(
        impact.hit_by_location_closure(
            session, closure.location, closure.starts_on, closure.ends_on
        )
    )


def room_closure_impact(session: Session, closure: RoomClosure) -> list[dict[str, Any]]:
    if closure.room is None or closure.starts_at is None or closure.ends_at is None:
        return []
    return present(
        impact.hit_by_room_closure(session, closure.room.id, closure.starts_at, closure.ends_at)
    )


def room_impact(session: Session, room: Room) -> list[dict[str, Any]]:
    return present(impact.hit_by_room_change(session, room))


def credential_impact(session: Session, credential: Credential) -> list[dict[str, Any]]:
    return present(impact.hit_by_credential_change(session, credential))


def location_rooms_impact(session: Session, location: Location) -> list[dict[str, Any]]:
    """The location form edits its rooms inline: each room's change, as on the room form."""
    return present(_unique(impact.hit_by_room_change(session, room) for room in location.rooms))


def staff_credentials_impact(session: Session, staff: StaffMember) -> list[dict[str, Any]]:
    """The staff form edits credentials inline: each credential's change, as on its own form."""
    return present(_unique(impact.hit_by_credential_change(session, c) for c in staff.credentials))


def _unique(lists: Iterable[list[Appointment]]) -> list[Appointment]:
    found = {a.id: a for hit in lists for a in hit}
    return sorted(found.values(), key=lambda a: (a.starts_at, a.id))


IMPACTS: dict[str, Callable[[Session, Any], list[dict[str, Any]]]] = {
    "admin_location_closures": location_closure_impact,
    "admin_room_closures": room_closure_impact,
    "admin_rooms": room_impact,
    "admin_credentials": credential_impact,
    "admin_locations": location_rooms_impact,
    "admin_staff": staff_credentials_impact,
}


def install_impact_checks(admin: Admin) -> None:
    """Give the closure, room, location and staff views their impact check (the page frame shows
    the list and the button that confirms it, whatever the form's template)."""
    for view in admin._views:
        check = IMPACTS.get(view.endpoint)
        if check is not None:
            view.impact = check
