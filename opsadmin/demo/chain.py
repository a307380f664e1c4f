"""The demo chain's master data: regions, sites with hours, rooms, site registrations, staff
and credentials (added when missing), and the closures of the dated data."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.audit.service import Actor
from opsadmin.locations.models import (
    Location,
    LocationClosure,
    OpeningHours,
    Region,
    SiteRegistration,
)
from opsadmin.locations.service import local_datetime
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.models import (
    CLINICIAN_ROLES,
    Credential,
    StaffMember,
)

SEED = 20931
ACTOR = Actor("system", None, "seed-demo")
MARKER = "DEMO-"
PAST_DAYS = 70  # ten weeks of history
FUTURE_DAYS = 14  # two weeks of bookings ahead
FOLLOW_UP_DAYS = 14
MON_FRI = (0, 1, 2, 3, 4)
DAY = dt.timedelta(days=1)


# -- master data --------------------------------------------------------------------------------

REGIONS = (
    ("IN", "Indiana", ("lead.indiana@example.org",)),
    ("IL", "Illinois", ("lead.illinois@example.org",)),
)


@dataclass(frozen=True)
class SiteSpec:
    code: str
    name: str
    region: str
    address: tuple[str, str, str, str]  # line 1, city, state, postal code
    timezone: str
    phone: str
    hours: tuple[tuple[tuple[int, ...], str, str], ...]  # (weekdays, opens, closes)
    rooms: tuple[tuple[str, str, int], ...]  # (name, kind, capacity)


SITES = (
    SiteSpec(
        "GRN",
        "Greencastle",
        "IN",
        ("17 S Indiana St", "Greencastle", "IN", "46135"),
        "America/Indiana/Indianapolis",
        "+1 765 555 0110",
        ((MON_FRI, "08:00", "18:00"), ((5,), "08:00", "13:00")),
        (
            ("Infusion A", "infusion", 3),
            ("Infusion B", "infusion", 2),
            ("Consult 1", "consult", 1),
            ("Recovery", "recovery", 4),
        ),
    ),
    SiteSpec(
        "IND",
        "Indianapolis North",
        "IN",
        ("8402 Harcourt Rd", "Indianapolis", "IN", "46260"),
        "America/Indiana/Indianapolis",
        "+1 317 555 0120",
        ((MON_FRI, "07:30", "19:00"), ((5,), "08:00", "14:00")),
        (
            ("Infusion Suite", "infusion", 4),
            ("Infusion 2", "infusion", 2),
            ("Consult 1", "consult", 1),
            ("Consult 2", "consult", 1),
            ("Recovery", "recovery", 3),
        ),
    ),
    SiteSpec(
        "BLM",
        "Bloomington",
        "IN",
        ("2401 S Walnut St", "Bloomington", "IN", "47401"),
        "America/Indiana/Indianapolis",
        "+1 812 555 0130",
        # Two intervals a day: the site closes over lunch.
        ((MON_FRI, "08:30", "12:30"), (MON_FRI, "13:30", "17:30")),
        (
            ("Infusion Room", "infusion", 2),
            ("Quiet Room", "infusion", 1),
            ("Consult 1", "consult", 1),
        ),
    ),
    SiteSpec(
        "CHI",
        "Chicago Loop",
        "IL",
        ("180 N Michigan Ave", "Chicago", "IL", "60601"),
        "America/Chicago",
        "+1 312 555 0140",
        ((MON_FRI, "08:00", "18:00"), ((5,), "08:00", "13:00")),
        (
            ("Infusion A", "infusion", 4),
            ("Infusion B", "infusion", 3),
            ("Consult 1", "consult", 1),
            ("Consult 2", "consult", 1),
            ("Recovery", "recovery", 4),
        ),
    ),
    SiteSpec(
        "NPV",
        "Naperville",
        "IL",
        ("1020 E Ogden Ave", "Naperville", "IL", "60563"),
        "America/Chicago",
        "+1 630 555 0150",
        (((0, 1, 2, 3), "09:00", "17:00"),),
        (("Infusion", "infusion", 2), ("Consult 1", "consult", 1)),
    ),
)

# (site, kind, number, days until expiry): the DEA registration of each site and the state CSRs.
REGISTRATIONS = (
    ("GRN", "dea_registration", "FG4172637", 540),
    ("GRN", "state_csr", "01204417A", 400),
    ("IND", "dea_registration", "FI2290518", 610),
    ("IND", "state_csr", "01204418A", 380),
    ("BLM", "dea_registration", "FB3318805", 455),
    ("BLM", "state_csr", "01204419A", 20),  # expiring soon: the follow-up digest shows it
    ("CHI", "dea_registration", "FC5562107", 700),
    ("CHI", "state_csr", "317.081245", 300),
    ("NPV", "dea_registration", "FN6674019", 50),  # expiring, still valid for the whole window
    ("NPV", "state_csr", "317.081377", 290),
)

# (name, role, sites, states licensed in)
STAFF = (
    ("Dr. Avery Quinn", "physician", ("GRN", "IND"), ("IN",)),
    # Licensed in Indiana only yet assigned to Chicago: the demo of an ineligible clinician.
    ("Dr. Morgan Hale", "physician", ("GRN", "CHI"), ("IN",)),
    ("Dr. Priya Raman", "physician", ("IND", "BLM"), ("IN",)),
    ("Dr. Sofia Bianchi", "physician", ("BLM", "GRN"), ("IN",)),
    ("Jordan Ellis", "crna", ("IND", "GRN"), ("IN",)),
    ("Casey Brooks", "nurse_practitioner", ("BLM", "IND"), ("IN",)),
    ("Taylor Nguyen", "registered_nurse", ("GRN",), ("IN",)),
    ("Riley Carter", "registered_nurse", ("IND",), ("IN",)),
    ("Sam Patel", "registered_nurse", ("IND",), ("IN",)),
    ("Jamie Fox", "registered_nurse", ("BLM",), ("IN",)),
    ("Alex Romero", "medical_assistant", ("GRN",), ()),
    ("Drew Kim", "medical_assistant", ("IND",), ()),
    ("Pat Morales", "coordinator", ("GRN", "IND", "BLM"), ()),
    ("Dr. Elena Vasquez", "physician", ("CHI", "NPV"), ("IL",)),
    ("Dr. Marcus Webb", "physician", ("CHI",), ("IL", "IN")),
    ("Dr. Hannah Okafor", "physician", ("NPV", "CHI"), ("IL",)),
    ("Chris Dalton", "crna", ("CHI",), ("IL",)),
    ("Robin Shah", "crna", ("CHI", "NPV"), ("IL",)),
    ("Lee Summers", "nurse_practitioner", ("NPV", "CHI"), ("IL",)),
    ("Dana Whitfield", "registered_nurse", ("CHI",), ("IL",)),
    ("Kendall Price", "registered_nurse", ("CHI",), ("IL",)),
    ("Jesse Moreno", "registered_nurse", ("NPV",), ("IL",)),
    ("Skyler Grant", "medical_assistant", ("CHI",), ()),
    ("Rowan Hughes", "medical_assistant", ("NPV",), ()),
    ("Logan Reyes", "coordinator", ("CHI", "NPV"), ()),
)

# (e-mail local part, kind, state) → (days until expiry, verified): the cases worth showing.
SPECIAL_CREDENTIALS: dict[tuple[str, str, str | None], tuple[int, bool]] = {
    ("jordan.ellis", "acls", None): (25, True),  # expiring
    ("casey.brooks", "acls", None): (-12, True),  # expired: no infusions since, consults fine
    ("chris.dalton", "dea_registration", "IL"): (700, False),  # renewed, not yet verified
    ("hannah.okafor", "state_license", "IL"): (45, True),  # expiring
    ("sam.patel", "bls", None): (40, True),  # expiring
    ("jesse.moreno", "state_license", "IL"): (30, True),  # expiring
}

STAFF_DOMAIN = "clinic.example.org"


def staff_email(name: str) -> str:
    return ".".join(name.removeprefix("Dr. ").lower().split()) + "@" + STAFF_DOMAIN


def dea_number(letters: str, digits: int) -> str:
    """A DEA-shaped number: two letters, six digits and the DEA check digit."""
    d = [int(c) for c in f"{digits:06d}"]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return f"{letters}{digits:06d}{check}"


def npi_number(base: int) -> str:
    """A ten-digit NPI whose last digit is the Luhn check digit (with the 80840 prefix)."""
    digits = f"80840{base:09d}"
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: the check digit will sit to the right of these
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return f"{base:09d}{(10 - total % 10) % 10}"


# -- master data --------------------------------------------------------------------------------


def ensure_regions(session: Session, added: dict[str, int]) -> dict[str, Region]:
    existing = {r.code: r for r in session.scalars(sa.select(Region))}
    for code, name, leads in REGIONS:
        if code not in existing:
            existing[code] = Region(code=code, name=name, lead_emails=list(leads))
            session.add(existing[code])
            added["regions"] += 1
    return existing


def ensure_locations(
    session: Session, regions: dict[str, Region], today: dt.date, added: dict[str, int]
) -> dict[str, Location]:
    existing = {loc.code: loc for loc in session.scalars(sa.select(Location))}
    for spec in SITES:
        if spec.code in existing:
            continue
        line1, city, state, postal_code = spec.address
        location = Location(
            code=spec.code,
            name=spec.name,
            region=regions[spec.region],
            address_line1=line1,
            city=city,
            state=state,
            postal_code=postal_code,
            timezone=spec.timezone,
            phone=spec.phone,
            active=True,
        )
        location.opening_hours = list(_opening_hours(spec))
        session.add(location)
        existing[spec.code] = location
        added["locations"] += 1
        added["opening_hours"] += len(location.opening_hours)
    _ensure_registrations(session, existing, today, added)
    return existing


def _opening_hours(spec: SiteSpec) -> Iterable[OpeningHours]:
    for weekdays, opens, closes in spec.hours:
        for weekday in weekdays:
            yield OpeningHours(
                weekday=weekday,
                opens=dt.time.fromisoformat(opens),
                closes=dt.time.fromisoformat(closes),
            )


def _ensure_registrations(
    session: Session, locations: dict[str, Location], today: dt.date, added: dict[str, int]
) -> None:
    existing = {
        (r.location_id, r.kind, r.state) for r in session.scalars(sa.select(SiteRegistration))
    }
    for code, kind, number, days in REGISTRATIONS:
        location = locations[code]
        if location.id is not None and (location.id, kind, location.state) in existing:
            continue
        expires = today + dt.timedelta(days=days)
        location.registrations.append(
            SiteRegistration(
                kind=kind,
                number=number,
                state=location.state,
                issued_on=expires - dt.timedelta(days=3 * 365),
                expires_on=expires,
            )
        )
        added["site_registrations"] += 1


def ensure_rooms(session: Session, locations: dict[str, Location], added: dict[str, int]) -> None:
    session.flush()
    existing = {(r.location_id, r.name) for r in session.scalars(sa.select(Room))}
    for spec in SITES:
        location = locations[spec.code]
        for name, kind, capacity in spec.rooms:
            if (location.id, name) not in existing:
                session.add(Room(location=location, name=name, kind=kind, capacity=capacity))
                added["rooms"] += 1


def ensure_staff(
    session: Session, locations: dict[str, Location], today: dt.date, added: dict[str, int]
) -> list[StaffMember]:
    existing = {s.email: s for s in session.scalars(sa.select(StaffMember))}
    rng = random.Random(SEED + 1)  # credential numbers and dates, independent of the schedule
    members = []
    for name, role, sites, states in STAFF:
        email = staff_email(name)
        member = existing.get(email)
        if member is None:
            member = StaffMember(name=name, email=email, role=role, active=True)
            member.locations = [locations[code] for code in sites]
            session.add(member)
            added["staff"] += 1
        have = {(c.kind, c.state) for c in member.credentials}
        for kind, state in _credential_kinds(role, states):
            if (kind, state) not in have:
                member.credentials.append(_credential(email, kind, state, today, rng))
                added["credentials"] += 1
        members.append(member)
    return members


def _credential_kinds(role: str, states: tuple[str, ...]) -> list[tuple[str, str | None]]:
    kinds: list[tuple[str, str | None]] = []
    if role in CLINICIAN_ROLES:
        for state in states:
            kinds += [("state_license", state), ("dea_registration", state)]
        kinds += [("acls", None), ("bls", None)]
        if role == "physician":
            kinds.append(("board_certification", None))
    elif role == "registered_nurse":
        kinds += [("state_license", state) for state in states] + [("acls", None), ("bls", None)]
    elif role == "medical_assistant":
        kinds.append(("bls", None))
    return kinds


def _credential(
    email: str, kind: str, state: str | None, today: dt.date, rng: random.Random
) -> Credential:
    days, verified = SPECIAL_CREDENTIALS.get(
        (email.split("@")[0], kind, state), (rng.randint(200, 900), True)
    )
    # ACLS/BLS cards last two years; licenses and registrations are renewed every two or three.
    lifetime = 730 if kind in ("acls", "bls") else 1095
    # A card expiring further ahead than its lifetime would be issued in the future.
    expires = today + dt.timedelta(days=min(days, lifetime - 30))
    issued = expires - dt.timedelta(days=lifetime)
    return Credential(
        kind=kind,
        number=_credential_number(kind, state, email, rng),
        state=state,
        issued_on=issued,
        expires_on=expires,
        verified_on=min(issued + dt.timedelta(days=7), today) if verified else None,
        verified_by="credentialing@clinic.example.org" if verified else None,
    )


def _credential_number(kind: str, state: str | None, email: str, rng: random.Random) -> str:
    if kind == "dea_registration":
        last_name_initial = email.split("@")[0].split(".")[-1][0].upper()
        return dea_number("B" + last_name_initial, rng.randint(100000, 999999))
    if kind == "state_license":
        return (
            f"{rng.randint(1000000, 9999999)}A"
            if state == "IN"
            else f"036.{rng.randint(100000, 199999)}"
        )
    if kind == "board_certification":
        return f"ABPN-{rng.randint(10000, 99999)}"
    return f"{rng.randint(10**11, 10**12 - 1)}"  # AHA eCard code


# -- closures -----------------------------------------------------------------------------------


def us_holidays(year: int) -> list[tuple[dt.date, dt.date, str]]:
    """The holidays the chain closes for: (first day, last day, name)."""

    def nth_weekday(month: int, weekday: int, n: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last_weekday(month: int, weekday: int) -> dt.date:
        last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
        return last - dt.timedelta(days=(last.weekday() - weekday) % 7)

    thanksgiving = nth_weekday(11, 3, 4)
    return [
        (dt.date(year, 1, 1), dt.date(year, 1, 1), "New Year's Day"),
        (last_weekday(5, 0), last_weekday(5, 0), "Memorial Day"),
        (dt.date(year, 7, 4), dt.date(year, 7, 4), "Independence Day"),
        (nth_weekday(9, 0, 1), nth_weekday(9, 0, 1), "Labor Day"),
        (thanksgiving, thanksgiving + dt.timedelta(days=1), "Thanksgiving"),
        (dt.date(year, 12, 24), dt.date(year, 12, 25), "Christmas"),
    ]


def add_closures(
    session: Session, locations: dict[str, Location], today: dt.date, added: dict[str, int]
) -> None:
    first, last = today - dt.timedelta(days=PAST_DAYS), today + dt.timedelta(days=FUTURE_DAYS)
    holidays = [
        h
        for year in (today.year - 1, today.year, today.year + 1)
        for h in us_holidays(year)
        if h[1] >= first and h[0] <= last
    ]
    # Whatever the season, one site-specific closure in the past and one ahead.
    training = _weekday_near(today - dt.timedelta(days=24))
    maintenance = _weekday_near(today + dt.timedelta(days=9))
    for code, location in locations.items():
        closures = [(start, end, name) for start, end, name in holidays]
        if code == "IND":
            closures.append((training, training, "Staff training day"))
        if code == "CHI":
            closures.append((maintenance, maintenance, "HVAC maintenance"))
        for start, end, reason in closures:
            location.closures.append(LocationClosure(starts_on=start, ends_on=end, reason=reason))
            added["closures"] += 1


# (site, room, days from today, local start, local end, reason): maintenance, one past, one ahead.
ROOM_CLOSURES = (
    ("CHI", "Infusion B", -17, "08:00", "12:00", "Infusion pump calibration"),
    ("IND", "Infusion 2", 3, "12:00", "16:00", "Recliner replacement"),
)


def add_room_closures(
    session: Session, locations: dict[str, Location], today: dt.date, added: dict[str, int]
) -> None:
    for code, room_name, days, opens, closes, reason in ROOM_CLOSURES:
        location = locations[code]
        room = next(r for r in location.rooms if r.name == room_name)
        day = _weekday_near(today + dt.timedelta(days=days))
        room.closures.append(
            RoomClosure(
                starts_at=local_datetime(location, day, dt.time.fromisoformat(opens)),
                ends_at=local_datetime(location, day, dt.time.fromisoformat(closes)),
                reason=reason,
            )
        )
        added["room_closures"] += 1


def _weekday_near(day: dt.date) -> dt.date:
    while day.weekday() > 3:  # Monday–Thursday: every site is open then
        day += dt.timedelta(days=1)
    return day
