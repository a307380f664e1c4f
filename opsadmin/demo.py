"""The demo chain behind ``opsadmin seed-demo`` and ``opsadmin demo``: invented, deterministic data.

Two layers, both idempotent:

- **master data** — regions, sites with hours, rooms, site registrations, staff and credentials,
  the default credential rules — keyed by codes, e-mails and (kind, state): a missing row is
  added, an existing one is left as it is (an operator may have edited it).
- **dated data** — holiday closures, ten weeks of past and two weeks of future appointments,
  ~60 referrals with their events and screenings — generated once, relative to the day of the
  first run. Its marker is the ``DEMO-`` prefix of the appointments' external ids: a later run
  adds none of it, because dates shifted to a later "today" would collide with the first run's
  bookings and break the capacity rule.

The data keeps every booking rule of DESIGN §4 (room kinds, opening hours, capacity, eligible
clinicians, licensed sites, referral states) although it is inserted through the ORM in bulk
rather than the booking service, which would take minutes for ten thousand appointments.
Patients are opaque references (``P-20931``); staff, providers and addresses are made up.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.audit.service import Actor, record
from opsadmin.bookings.models import Appointment
from opsadmin.db import utcnow
from opsadmin.demo_at_risk import add_bookings_at_risk
from opsadmin.locations.licensing import ensure_default_site_rules, load_licensing
from opsadmin.locations.models import (
    Location,
    LocationClosure,
    OpeningHours,
    Region,
    SiteRegistration,
)
from opsadmin.locations.service import local_date, local_datetime, open_intervals
from opsadmin.referrals.models import Referral, ReferralEvent, Screening
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.eligibility import eligibility_many
from opsadmin.staff.models import (
    CLINICIAN_ROLES,
    Credential,
    StaffMember,
)
from opsadmin.staff.service import ensure_default_rules

SEED = 20931
ACTOR = Actor("system", None, "seed-demo")
MARKER = "DEMO-"
PAST_DAYS = 70  # ten weeks of history
FUTURE_DAYS = 14  # two weeks of bookings ahead
FOLLOW_UP_DAYS = 14
MON_FRI = (0, 1, 2, 3, 4)

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


# -- the entry point ----------------------------------------------------------------------------


def seed_demo(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Add whatever of the demo chain is missing; return how many rows of each kind were added.

    The caller sets the actor (``acting_as(ACTOR)``) and commits.
    """
    now = now or utcnow()
    today = now.date()
    added: dict[str, int] = defaultdict(int)
    regions = _ensure_regions(session, added)
    locations = _ensure_locations(session, regions, today, added)
    _ensure_rooms(session, locations, added)
    staff = _ensure_staff(session, locations, today, added)
    added["credential_rules"] += ensure_default_rules(session)
    if site_rules := ensure_default_site_rules(session):
        added["site_rules"] += site_rules
    session.flush()
    if not _dated_data_exists(session):
        rng = random.Random(SEED)
        _add_closures(session, locations, today, added)
        _add_room_closures(session, locations, today, added)
        session.flush()
        schedule = build_schedule(session, locations, staff, now, rng)
        referrals = build_referrals(session, schedule, locations, staff, now, rng)
        session.flush()  # the referrals' ids, for the appointments linked to them
        _insert_schedule(session, schedule, added)
        added["referrals"] += len(referrals)
        added.update(add_bookings_at_risk(session, now))  # a few, to see the feature
    session.flush()
    return dict(added)


def _dated_data_exists(session: Session) -> bool:
    found = session.scalar(
        sa.select(Appointment.id).where(Appointment.external_id.startswith(MARKER)).limit(1)
    )
    return found is not None


# -- master data --------------------------------------------------------------------------------


def _ensure_regions(session: Session, added: dict[str, int]) -> dict[str, Region]:
    existing = {r.code: r for r in session.scalars(sa.select(Region))}
    for code, name, leads in REGIONS:
        if code not in existing:
            existing[code] = Region(code=code, name=name, lead_emails=list(leads))
            session.add(existing[code])
            added["regions"] += 1
    return existing


def _ensure_locations(
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


def _ensure_rooms(session: Session, locations: dict[str, Location], added: dict[str, int]) -> None:
    session.flush()
    existing = {(r.location_id, r.name) for r in session.scalars(sa.select(Room))}
    for spec in SITES:
        location = locations[spec.code]
        for name, kind, capacity in spec.rooms:
            if (location.id, name) not in existing:
                session.add(Room(location=location, name=name, kind=kind, capacity=capacity))
                added["rooms"] += 1


def _ensure_staff(
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


def _add_closures(
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


def _add_room_closures(
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


# -- the schedule -------------------------------------------------------------------------------

INFUSION_MINUTES = {"depression": 90, "migraine": 120, "chronic_pain": 180, "other": 120}
INDICATION_WEIGHTS = (("depression", 5), ("migraine", 3), ("chronic_pain", 2), ("other", 1))
IDLE_STEP = 30  # minutes a chair stays free when the dice say "no booking here"


@dataclass
class Slot:
    """A planned appointment; referral-linked ones are claimed from the schedule."""

    location: Location
    room: Room
    kind: str
    indication: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    staff: StaffMember
    patient_ref: str = ""
    status: str = "booked"
    referral: Referral | None = None


@dataclass
class Schedule:
    slots: list[Slot] = field(default_factory=list)
    # (location code, kind) → slots by start, and their starts for bisecting
    index: dict[tuple[str, str], list[Slot]] = field(default_factory=dict)
    starts: dict[tuple[str, str], list[dt.datetime]] = field(default_factory=dict)

    # Who is where when: a clinician is at one site at a time, a patient in one chair.
    staff_busy: dict[int, list[tuple[dt.datetime, dt.datetime, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    patient_busy: dict[str, list[tuple[dt.datetime, dt.datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, slot: Slot) -> None:
        self.slots.append(slot)
        self.staff_busy[slot.staff.id].append((slot.starts_at, slot.ends_at, slot.location.id))
        self.patient_busy[slot.patient_ref].append((slot.starts_at, slot.ends_at))

    def staff_free(self, staff: StaffMember, location: Location, start, end) -> bool:
        """Not booked at another site then (staff_double_booked)."""
        return not any(
            s < end and e > start and where != location.id
            for s, e, where in self.staff_busy[staff.id]
        )

    def working_here(
        self, staff: list[StaffMember], location: Location, start
    ) -> list[StaffMember]:
        """Those of ``staff`` already booked at ``location`` that day: one clinician supervises
        several chairs, and staying put leaves the others free for the other sites."""
        return [
            c
            for c in staff
            if any(
                where == location.id and s.date() == start.date()
                for s, _, where in self.staff_busy[c.id]
            )
        ]

    def free_patient(self, patients: list[str], first: str, start, end) -> str | None:
        """``first``, or the next patient after it with no appointment then (patient_double_booked)."""
        at = patients.index(first)
        for ref in patients[at:] + patients[:at]:
            if not any(s < end and e > start for s, e in self.patient_busy[ref]):
                return ref
        return None

    def build_index(self) -> None:
        groups: dict[tuple[str, str], list[Slot]] = defaultdict(list)
        for slot in self.slots:
            groups[(slot.location.code, _room_kind(slot.kind))].append(slot)
        for key, slots in groups.items():
            slots.sort(key=lambda s: (s.starts_at, s.room.name))
            self.index[key] = slots
            self.starts[key] = [s.starts_at for s in slots]

    def take(
        self,
        location: Location,
        kind: str,
        after: dt.datetime,
        before: dt.datetime,
        rng: random.Random,
    ) -> Slot | None:
        """An unclaimed slot of ``kind`` starting in [after, before), picked at random."""
        key = (location.code, _room_kind(kind))
        slots, starts = self.index.get(key, []), self.starts.get(key, [])
        lo, hi = bisect.bisect_left(starts, after), bisect.bisect_left(starts, before)
        free = [s for s in slots[lo:hi] if s.referral is None and s.kind == kind]
        return rng.choice(free) if free else None


def _room_kind(kind: str) -> str:
    return "infusion" if kind == "infusion" else "consult"


class Eligibility:
    """Which clinicians may take a kind of appointment at a site on a day.

    Asks :func:`opsadmin.staff.eligibility.eligibility_many` (the booking service's own rule)
    and remembers the answer. The answer can only change on a day a credential is issued or
    the day after one expires, so it is asked once per stretch between such days rather than
    once per day: the schedule asks thousands of times.
    """

    def __init__(self, session: Session, staff: list[StaffMember]):
        self.session = session
        self.staff = {s.id: s for s in staff if s.role in CLINICIAN_ROLES}
        changes = set()
        for member in self.staff.values():
            for credential in member.credentials:
                changes |= {credential.issued_on, credential.expires_on + DAY}
        self.changes = sorted(changes)
        self.cache: dict[tuple[int, int, str], list[StaffMember]] = {}
        self.licensing = load_licensing(
            session, {loc for s in self.staff.values() for loc in s.locations}
        )

    def clinicians(self, location: Location, day: dt.date, kind: str) -> list[StaffMember]:
        key = (location.id, bisect.bisect_right(self.changes, day), kind)
        if key not in self.cache:
            answers = eligibility_many(self.session, self.staff, location.id, day, kind)
            self.cache[key] = [self.staff[i] for i in sorted(answers) if answers[i].eligible]
        return self.cache[key]


def build_schedule(
    session: Session,
    locations: dict[str, Location],
    staff: list[StaffMember],
    now: dt.datetime,
    rng: random.Random,
) -> Schedule:
    """Fill every open chair-day of the window to a weekly target of 55–85 % (infusions)."""
    session.flush()  # eligibility is asked of the database
    eligibility = Eligibility(session, staff)
    schedule = Schedule()
    patients = [f"P-{n}" for n in rng.sample(range(30000, 99999), 400)]
    for location in sorted(locations.values(), key=lambda loc: loc.code):
        today = local_date(location, now)
        rooms = sorted(
            (r for r in location.rooms if r.active and r.kind != "recovery"), key=lambda r: r.name
        )
        targets: dict[int, float] = {}
        for offset in range(-PAST_DAYS, FUTURE_DAYS):
            day = today + dt.timedelta(days=offset)
            target = targets.setdefault(day.isocalendar()[1], rng.uniform(0.66, 0.86))
            for room in rooms:
                _fill_room_day(schedule, eligibility, room, day, target, patients, rng)
    _set_statuses(schedule, now, rng)
    schedule.build_index()
    return schedule


def _fill_room_day(
    schedule: Schedule,
    eligibility: Eligibility,
    room: Room,
    day: dt.date,
    target: float,
    patients: list[str],
    rng: random.Random,
) -> None:
    location = room.location
    if room.kind == "infusion" and eligibility.licensing.missing(location, day):
        return
    if room.kind == "consult":
        target = target * 0.6  # consult rooms are quieter than the chairs
    for opens, closes in open_intervals(location, day):
        for _chair in range(room.capacity):
            # One chair at a time, back to back: at no instant more than `capacity` overlap.
            cursor = opens
            while cursor < closes:
                kind, indication, minutes = _draw_appointment(room.kind, rng)
                if cursor + dt.timedelta(minutes=minutes) > closes and kind == "infusion":
                    # The day's last chair-slot: a shorter infusion may still fit.
                    indication, minutes = "depression", INFUSION_MINUTES["depression"]
                ends = cursor + dt.timedelta(minutes=minutes)
                if ends > closes:
                    break
                clinicians = [
                    c
                    for c in eligibility.clinicians(location, day, kind)
                    if schedule.staff_free(c, location, cursor, ends)
                ]
                if _room_closed(room, cursor, ends):
                    clinicians = []
                if clinicians and rng.random() < _booking_probability(target, minutes):
                    staff = rng.choice(
                        schedule.working_here(clinicians, location, cursor) or clinicians
                    )
                    patient = schedule.free_patient(patients, rng.choice(patients), cursor, ends)
                    schedule.add(
                        Slot(
                            location, room, kind, indication, cursor, ends,
                            staff=staff, patient_ref=patient or "",
                        )
                    )  # fmt: skip
                    cursor = ends
                else:
                    cursor += dt.timedelta(minutes=IDLE_STEP)


def _room_closed(room: Room, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    return any(c.starts_at < ends_at and starts_at < c.ends_at for c in room.closures)


def _draw_appointment(room_kind: str, rng: random.Random) -> tuple[str, str, int]:
    indications, weights = zip(*INDICATION_WEIGHTS, strict=True)
    indication = rng.choices(indications, weights)[0]
    if room_kind == "infusion":
        return "infusion", indication, INFUSION_MINUTES[indication]
    if rng.random() < 0.35:
        return "follow_up", indication, 30
    return "consult", indication, 60


def _booking_probability(target: float, minutes: int) -> float:
    """The chance of booking a slot so that booked time / open time comes out near ``target``.

    Each draw either books ``minutes`` (probability p) or idles IDLE_STEP minutes, so the booked
    share is p·m / (p·m + (1 − p)·idle); solved for p.
    """
    return target * IDLE_STEP / (minutes * (1 - target) + target * IDLE_STEP)


def _set_statuses(schedule: Schedule, now: dt.datetime, rng: random.Random) -> None:
    """Past: mostly completed, ~5 % no-shows, a few cancellations. Not yet ended: booked."""
    for slot in schedule.slots:
        if slot.ends_at > now:
            slot.status = "booked"
            continue
        roll = rng.random()
        slot.status = "no_show" if roll < 0.05 else "cancelled" if roll < 0.08 else "completed"


# -- referrals ----------------------------------------------------------------------------------

# How many referrals to leave in each state: every state of the machine is represented.
REFERRAL_PLAN = (
    ("received", 7),
    ("consult_scheduled", 7),
    ("consulted", 6),
    ("approved", 6),
    ("declined", 4),
    ("treatment_scheduled", 6),
    ("in_treatment", 10),
    ("completed", 8),
    ("withdrawn", 6),
)
PROVIDERS = (
    ("Dr. Nadia Ferris", "Putnam County Neurology"),
    ("Dr. Owen Castellanos", "Northside Behavioral Health"),
    ("Dr. Grace Whitmore", "Monroe Pain & Spine"),
    ("Dr. Isaac Duval", "Lakeshore Headache Center"),
    ("Dr. Mei Tanaka", "DuPage Psychiatry Associates"),
)
# Treatment happens at the consult site or at the region's bigger infusion centre.
TREATMENT_SITE = {"GRN": "IND", "BLM": "IND", "NPV": "CHI"}
WITHDRAWAL_REASONS = (
    "Patient chose a provider closer to home.",
    "Insurance did not authorise the course.",
    "Patient no longer wishes to proceed.",
)
DECLINE_FLAGS = (
    "uncontrolled_cardiovascular_disease",
    "active_psychosis",
    "active_substance_use_disorder",
    "pregnancy",
)
DAY = dt.timedelta(days=1)


@dataclass
class Story:
    """One referral's history as it is being written."""

    referral: Referral
    at: dt.datetime  # when the last event happened
    rng: random.Random
    # A referral in treatment with no session ahead: the follow-up digest calls it stalled.
    stalled: bool = False

    def move(self, to: str, at: dt.datetime, reason: str = "") -> None:
        self.referral.events.append(
            ReferralEvent(
                from_status=self.referral.status,
                to_status=to,
                actor_type=ACTOR.type,
                actor_id=ACTOR.id,
                actor_label=ACTOR.label,
                at=at,
                reason=reason,
            )
        )
        self.referral.status = to
        self.referral.status_changed_at = at
        self.at = at


def build_referrals(
    session: Session,
    schedule: Schedule,
    locations: dict[str, Location],
    staff: list[StaffMember],
    now: dt.datetime,
    rng: random.Random,
) -> list[Referral]:
    """~60 referrals, each walked through the state machine to its planned state."""
    physicians = [s for s in staff if s.role == "physician"]
    referrals = []
    number = 0
    for status, count in REFERRAL_PLAN:
        for nth in range(count):
            number += 1
            story = _new_referral(locations, number, status, now, rng)
            story.stalled = status == "in_treatment" and nth == 0
            _walk(story, status, schedule, physicians, now)
            session.add(story.referral)
            referrals.append(story.referral)
    return referrals


def _new_referral(
    locations: dict[str, Location], number: int, status: str, now: dt.datetime, rng: random.Random
) -> Story:
    consult_site = rng.choice([spec.code for spec in SITES])
    treatment_site = consult_site
    if rng.random() < 0.5:
        treatment_site = TREATMENT_SITE.get(consult_site, consult_site)
    # Referrals further along the path arrived earlier.
    earliest, latest = {
        "received": (0, 12),
        "consult_scheduled": (2, 12),
        "consulted": (12, 35),
        "approved": (15, 40),
        "declined": (12, 40),
        "treatment_scheduled": (15, 30),
        "in_treatment": (25, 45),
        "completed": (55, 66),
        "withdrawn": (5, 45),
    }[status]
    received_on = now.date() - dt.timedelta(days=rng.randint(earliest, latest))
    provider, practice = rng.choice(PROVIDERS)
    indication = rng.choices(*zip(*INDICATION_WEIGHTS, strict=True))[0]
    referral = Referral(
        patient_ref=f"P-{20900 + number * 7}",
        indication=indication,
        referring_provider_name=provider,
        referring_provider_npi=npi_number(130000000 + PROVIDERS.index((provider, practice))),
        referring_provider_practice=practice,
        received_on=received_on,
        consult_location=locations[consult_site],
        treatment_location=locations[treatment_site],
        planned_sessions=rng.choice((6, 6, 6, 4)),
        sessions_completed=0,
        status="received",
    )
    created = min(local_datetime(referral.consult_location, received_on, dt.time(9, 30)), now)
    referral.events.append(
        ReferralEvent(
            from_status=None,
            to_status="received",
            actor_type=ACTOR.type,
            actor_id=ACTOR.id,
            actor_label=ACTOR.label,
            at=created,
        )
    )
    referral.status_changed_at = created
    return Story(referral, created, rng)


def _walk(
    story: Story, goal: str, schedule: Schedule, physicians: list[StaffMember], now: dt.datetime
) -> None:
    """Write the events (and claim the appointments) that bring the referral to ``goal``."""
    if goal == "received":
        return
    if goal == "withdrawn":
        _withdraw(story, schedule, physicians, now)
        return
    past_consult = goal != "consult_scheduled"
    if not _consult(story, schedule, now, past=past_consult):
        return
    if goal in ("consult_scheduled", "consulted"):
        return
    approved = goal != "declined"
    _decide(story, physicians, now, approve=approved)
    if goal in ("approved", "declined"):
        return
    _treat(story, schedule, now, goal)


def _withdraw(
    story: Story, schedule: Schedule, physicians: list[StaffMember], now: dt.datetime
) -> None:
    stage = story.rng.choice(("received", "consulted", "approved"))
    if stage != "received" and _consult(story, schedule, now, past=True):
        if stage == "approved":
            _decide(story, physicians, now, approve=True)
    at = _between(story.at + DAY, now, story.rng)
    story.move("withdrawn", at, story.rng.choice(WITHDRAWAL_REASONS))


def _between(start: dt.datetime, end: dt.datetime, rng: random.Random) -> dt.datetime:
    """A whole-minute instant in [start, end] (start if the range is empty: events keep order)."""
    if end <= start:
        return start
    minutes = int((end - start).total_seconds() // 60)
    return start + dt.timedelta(minutes=rng.randint(0, minutes))


def _claim(slot: Slot, story: Story, status: str) -> None:
    referral = story.referral
    slot.referral = referral
    slot.patient_ref = referral.patient_ref
    slot.indication = referral.indication
    slot.status = status


def _consult(story: Story, schedule: Schedule, now: dt.datetime, *, past: bool) -> bool:
    """Book the consult (consult_scheduled) and, for a past one, complete it (consulted)."""
    referral, rng = story.referral, story.rng
    if past:
        # Consults happen within ten days of the referral arriving.
        window = (story.at + 2 * DAY, min(story.at + 10 * DAY, now - DAY))
    else:
        window = (now + DAY, now + 13 * DAY)
    slot = schedule.take(referral.consult_location, "consult", *window, rng)
    if slot is None:
        return False
    booked_at = _between(story.at + dt.timedelta(hours=2), min(slot.starts_at, now) - DAY, rng)
    story.move("consult_scheduled", booked_at)
    _claim(slot, story, "completed" if past else "booked")
    if past:
        story.move("consulted", slot.ends_at)
    return True


def _decide(
    story: Story, physicians: list[StaffMember], now: dt.datetime, *, approve: bool
) -> None:
    referral, rng = story.referral, story.rng
    decided_at = _between(story.at + dt.timedelta(hours=3), min(story.at + 3 * DAY, now), rng)
    doctors = [p for p in physicians if referral.consult_location in p.locations] or physicians
    flags: list[str] = []
    override = ""
    if not approve:
        flags = [rng.choice(DECLINE_FLAGS)]
    elif rng.random() < 0.15:
        # Approving with a flag needs a written override (DESIGN §4).
        flags = ["kidney_disease"]
        override = (
            "Mild CKD stage 2; nephrology cleared; dose adjusted and renal panel each session."
        )
    referral.screenings.append(
        Screening(
            flags=flags,
            decided_by=rng.choice(doctors),
            override=override,
            decision="approved" if approve else "declined",
            decided_at=decided_at,
        )
    )
    reason = "" if approve else f"Contraindication at screening: {flags[0].replace('_', ' ')}."
    story.move("approved" if approve else "declined", decided_at, reason)


def _treat(story: Story, schedule: Schedule, now: dt.datetime, goal: str) -> None:
    """Infusions: booked ahead (treatment_scheduled), some completed (in_treatment), all done."""
    referral, rng = story.referral, story.rng
    done_target = {
        "treatment_scheduled": 0,
        "in_treatment": rng.randint(1, referral.planned_sessions - 1),
        "completed": referral.planned_sessions,
    }[goal]
    cursor = story.at + DAY
    completed: list[Slot] = []
    scheduled_at = None
    while len(completed) < done_target:
        slot = _next_session(schedule, referral.treatment_location, cursor, now - DAY, rng)
        if slot is None:
            break
        if scheduled_at is None:
            scheduled_at = _between(story.at + dt.timedelta(hours=1), slot.starts_at - DAY, rng)
            story.move("treatment_scheduled", scheduled_at)
        _claim(slot, story, "completed")
        completed.append(slot)
        if len(completed) == 1:
            story.move("in_treatment", slot.ends_at)
        cursor = slot.ends_at + 2 * DAY
    _book_ahead(story, schedule, now, goal, completed, scheduled_at)
    _finish(story, goal, completed)


def _next_session(
    schedule: Schedule,
    location: Location,
    after: dt.datetime,
    limit: dt.datetime,
    rng: random.Random,
) -> Slot | None:
    """The next infusion of a course: two or three a week, later if the chairs are full."""
    for days in (4, 8, 15):
        slot = schedule.take(location, "infusion", after, min(after + days * DAY, limit), rng)
        if slot is not None:
            return slot
    return None


def _book_ahead(
    story: Story,
    schedule: Schedule,
    now: dt.datetime,
    goal: str,
    completed: list[Slot],
    scheduled_at: dt.datetime | None,
) -> None:
    referral, rng = story.referral, story.rng
    if goal == "completed":
        return
    if story.stalled and completed:
        return
    remaining = referral.planned_sessions - len(completed)
    cursor = now + DAY
    for _ in range(min(remaining, 2)):
        slot = _next_session(schedule, referral.treatment_location, cursor, now + 13 * DAY, rng)
        if slot is None:
            break
        if scheduled_at is None:
            scheduled_at = _between(
                story.at + dt.timedelta(hours=1), now - dt.timedelta(hours=1), rng
            )
            story.move("treatment_scheduled", scheduled_at)
        _claim(slot, story, "booked")
        cursor = slot.ends_at + 2 * DAY


def _finish(story: Story, goal: str, completed: list[Slot]) -> None:
    referral = story.referral
    referral.sessions_completed = len(completed)
    if goal == "completed" and len(completed) >= referral.planned_sessions:
        last = completed[-1]
        referral.follow_up_due_on = local_date(
            referral.treatment_location, last.starts_at
        ) + dt.timedelta(days=FOLLOW_UP_DAYS)
        story.move("completed", last.ends_at)


# -- insertion ----------------------------------------------------------------------------------


def _insert_schedule(session: Session, schedule: Schedule, added: dict[str, int]) -> None:
    """Every slot becomes an Appointment, in one ORM bulk INSERT.

    Thousands of rows through the unit of work (and an audit row each) would take most of a
    minute on SQLite; the bulk insert skips the per-row audit hook, so one explicit audit event
    records what the seed inserted and who did it. External ids follow the schedule's stable order.
    """
    ordered = sorted(
        schedule.slots, key=lambda s: (s.location.code, s.starts_at, s.room.name, s.kind)
    )
    numbers: dict[str, int] = defaultdict(int)
    rows = []
    for slot in ordered:
        numbers[slot.location.code] += 1
        rows.append(
            {
                "external_id": f"{MARKER}{slot.location.code}-{numbers[slot.location.code]:05d}",
                "location_id": slot.location.id,
                "room_id": slot.room.id,
                "staff_id": slot.staff.id,
                "kind": slot.kind,
                "indication": slot.indication,
                "patient_ref": slot.patient_ref,
                "referral_id": slot.referral.id if slot.referral else None,
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "status": slot.status,
            }
        )
    session.execute(sa.insert(Appointment), rows)
    record(
        session,
        "create",
        entity="Appointment",
        entity_id=f"{MARKER}*",
        detail=f"seed-demo inserted {len(rows)} demo appointments in bulk",
        changes={"count": len(rows), "by_location": dict(sorted(numbers.items()))},
    )
    added["appointments"] += len(rows)


def summary(added: dict[str, Any]) -> str:
    """One line for the console: what a run added."""
    if not added or not any(added.values()):
        return "demo chain already present: nothing added"
    return "added " + ", ".join(
        f"{count} {name.replace('_', ' ')}" for name, count in sorted(added.items()) if count
    )


# -- the pieces of `opsadmin demo` ---------------------------------------------------------------

# (e-mail, role, regions): one login per console role, so a newcomer can try each.
DEMO_LOGINS = (
    ("admin@example.org", "admin", ()),
    ("ops@example.org", "ops_manager", ("IN", "IL")),
    ("lead.illinois@example.org", "regional_lead", ("IL",)),
)
DEMO_API_KEY_NAME = "demo booking system"


@dataclass(frozen=True)
class Login:
    email: str
    role: str
    regions: tuple[str, ...]
    password: str | None  # None: the login existed and keeps its password
    note: str = ""


def generate_password() -> str:
    """20 random letters and digits: well past the minimum length, and easy to copy."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def ensure_demo_logins(session: Session, reset: bool = False) -> list[Login]:
    """Create the demo's console users that are missing (passwords generated and returned).

    An existing user keeps its password unless ``reset``. No ``admin@example.org`` is created
    when another administrator already exists.
    """
    from opsadmin.auth.models import User

    logins = []
    for email, role, regions in DEMO_LOGINS:
        user = session.scalar(sa.select(User).where(User.email == email))
        if user is None and role == "admin":
            other = session.scalar(sa.select(User).where(User.role == "admin").limit(1))
            if other is not None:
                logins.append(Login(other.email, "admin", (), None, "administrator exists"))
                continue
        logins.append(_ensure_login(session, user, email, role, regions, reset))
    return logins


def _ensure_login(
    session: Session, user: Any, email: str, role: str, regions: tuple[str, ...], reset: bool
) -> Login:
    from opsadmin.auth.passwords import hash_password
    from opsadmin.auth.service import create_user

    password = generate_password()
    if user is None:
        create_user(session, email, password, role, list(regions))
        return Login(email, role, regions, password, "created")
    if not reset:
        return Login(email, user.role, regions, None, "exists")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    return Login(email, user.role, regions, password, "password reset")


def ensure_demo_api_key(session: Session) -> str | None:
    """Create the demo booking system's API key (read, write) once; its plaintext, or None."""
    from opsadmin.auth.models import ApiKey
    from opsadmin.auth.service import create_api_key

    if session.scalar(sa.select(ApiKey.id).where(ApiKey.name == DEMO_API_KEY_NAME)):
        return None
    _key, plaintext = create_api_key(session, DEMO_API_KEY_NAME, ["read", "write"], "seed-demo")
    return plaintext


def is_sqlite(database_uri: str) -> bool:
    return database_uri.startswith("sqlite")


def migrate_database() -> None:
    """``opsadmin db upgrade``, in-process (inside an app context).

    Alembic's env.py applies migrations/alembic.ini's logging configuration, which would replace
    the process's handlers and silence existing loggers for the rest of the demo: it is undone.
    """
    import logging

    from flask_migrate import upgrade

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {
        name: logger.disabled
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        upgrade()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.disabled = loggers.get(name, False)


def banner(
    config: dict[str, Any], base_url: str, logins: list[Login], api_key: str | None
) -> list[str]:
    """What `opsadmin demo` prints before serving: where to go, how to sign in, how to stop."""
    lines = [
        "",
        f"opsadmin demo — the console: {base_url}/admin/",
        "",
        f"Sign in at {base_url}/login with:",
    ]
    for login in logins:
        secret = login.password or "(password unchanged)"
        regions = f"  regions {', '.join(login.regions)}" if login.regions else ""
        lines.append(f"  {login.email:<28} {login.role:<14} {secret}{regions}")
    if any(login.password is None for login in logins):
        lines += [
            "  Lost a password? `opsadmin demo --reset-admin-password` prints new ones for these",
            "  logins; `opsadmin users create EMAIL --role admin` adds another administrator.",
        ]
    if config.get("OPSADMIN_REQUIRE_TOTP", True):
        lines += [
            "At the first sign-in the console asks for two-factor enrolment: scan the QR code",
            "with an authenticator app, then type the 6-digit code it shows.",
        ]
    lines += ["", *_api_lines(base_url, api_key), *_runtime_lines(config), ""]
    return lines


def _api_lines(base_url: str, api_key: str | None) -> list[str]:
    lines = [f"API: {base_url}/api/v1/docs (OpenAPI at {base_url}/api/v1/openapi.json)"]
    if api_key:
        lines += [
            "  API key for the demo booking system (read, write), shown once:",
            f"  {api_key}",
            f"  curl -H 'Authorization: Bearer {api_key}' {base_url}/api/v1/locations",
        ]
    else:
        lines.append("  `opsadmin api-keys create NAME --scopes read,write` makes a key.")
    return lines


def _runtime_lines(config: dict[str, Any]) -> list[str]:
    database = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"])
    if config.get("SMTP_HOST"):
        mail = f"E-mail: sent through {config['SMTP_HOST']}:{config['SMTP_PORT']}"
    else:
        mail = f"E-mail: not sent; written to the outbox {config['OPSADMIN_OUTBOX_DIR']}/*.eml"
    if config.get("REDIS_URL"):
        jobs = "Jobs: queued in Redis (REDIS_URL is set): run `python worker.py` alongside."
    else:
        jobs = "Jobs: run in-process (REDIS_URL unset)."
    return [
        f"Database: {database.render_as_string(hide_password=True)}",
        mail,
        jobs,
        "Stop with Ctrl-C; `make demo` again reuses the data.",
    ]
