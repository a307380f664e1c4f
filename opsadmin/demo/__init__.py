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

The data keeps every booking rule (room kinds, opening hours, capacity, eligible
clinicians, licensed sites, referral states) although it is inserted through the ORM in bulk
rather than the booking service, which would take minutes for ten thousand appointments.
Patients are opaque references (``P-20931``); staff, providers and addresses are made up.

The package: :mod:`~opsadmin.demo.chain` (master data, closures), :mod:`~opsadmin.demo.schedule`
(the appointments), :mod:`~opsadmin.demo.referrals` (the referrals' stories on the schedule),
:mod:`~opsadmin.demo.command` (logins, API key, banner of ``opsadmin demo``); this module seeds.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.audit.service import record
from opsadmin.bookings.models import Appointment
from opsadmin.db import utcnow
from opsadmin.demo.at_risk import add_bookings_at_risk
from opsadmin.demo.chain import (
    ACTOR,
    MARKER,
    SEED,
    add_closures,
    add_room_closures,
    ensure_locations,
    ensure_regions,
    ensure_rooms,
    ensure_staff,
)
from opsadmin.demo.command import (
    banner,
    ensure_demo_api_key,
    ensure_demo_logins,
    is_sqlite,
    migrate_database,
)
from opsadmin.demo.courses import add_course_stories
from opsadmin.demo.referrals import build_referrals
from opsadmin.demo.schedule import Schedule, build_schedule
from opsadmin.events.demo import seed_webhooks
from opsadmin.locations.licensing import ensure_default_site_rules
from opsadmin.staff.service import ensure_default_rules

# -- the entry point ----------------------------------------------------------------------------


def seed_demo(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Add whatever of the demo chain is missing; return how many rows of each kind were added.

    The caller sets the actor (``acting_as(ACTOR)``) and commits.
    """
    now = now or utcnow()
    today = now.date()
    added: dict[str, int] = defaultdict(int)
    regions = ensure_regions(session, added)
    locations = ensure_locations(session, regions, today, added)
    ensure_rooms(session, locations, added)
    staff = ensure_staff(session, locations, today, added)
    added["credential_rules"] += ensure_default_rules(session)
    if site_rules := ensure_default_site_rules(session):
        added["site_rules"] += site_rules
    session.flush()
    if not _dated_data_exists(session):
        rng = random.Random(SEED)
        add_closures(session, locations, today, added)
        add_room_closures(session, locations, today, added)
        session.flush()
        schedule = build_schedule(session, locations, staff, now, rng)
        referrals = build_referrals(session, schedule, locations, staff, now, rng)
        referrals += add_course_stories(session, schedule, locations, staff, now)
        session.flush()  # the referrals' ids, for the appointments linked to them
        _insert_schedule(session, schedule, added)
        added["referrals"] += len(referrals)
        added["webhook_endpoints"] += seed_webhooks(session, now, sorted(locations))
        added.update(add_bookings_at_risk(session, now))  # a few, to see the feature
    session.flush()
    return dict(added)


def _dated_data_exists(session: Session) -> bool:
    found = session.scalar(
        sa.select(Appointment.id).where(Appointment.external_id.startswith(MARKER)).limit(1)
    )
    return found is not None


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


__all__ = [
    "ACTOR",
    "banner",
    "ensure_demo_api_key",
    "ensure_demo_logins",
    "is_sqlite",
    "migrate_database",
    "seed_demo",
    "summary",
]
