"""The demo's appointment schedule: ten weeks back and two ahead, every booking rule kept
(room kinds, opening hours, capacity, eligible clinicians, licensed sites)."""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from opsadmin.bookings.service import ROOM_KIND_FOR
from opsadmin.demo.chain import DAY, FUTURE_DAYS, PAST_DAYS
from opsadmin.locations.licensing import load_licensing
from opsadmin.locations.models import (
    Location,
)
from opsadmin.locations.service import local_date, open_intervals
from opsadmin.referrals.models import Referral
from opsadmin.rooms.models import Room
from opsadmin.staff.eligibility import eligibility_many
from opsadmin.staff.models import (
    CLINICIAN_ROLES,
    StaffMember,
)

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
            groups[(slot.location.code, ROOM_KIND_FOR[slot.kind])].append(slot)
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
        key = (location.code, ROOM_KIND_FOR[kind])
        slots, starts = self.index.get(key, []), self.starts.get(key, [])
        lo, hi = bisect.bisect_left(starts, after), bisect.bisect_left(starts, before)
        free = [s for s in slots[lo:hi] if s.referral is None and s.kind == kind]
        return rng.choice(free) if free else None


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
        sites = {loc for member in self.staff.values() for loc in member.locations}
        self.licensing = load_licensing(session, sites)

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
