"""Treatment courses in the demo chain: referrals whose course shows on their console page.

Two complete courses, one booked ahead in full, one broken off (two sessions, the last weeks ago,
nothing booked since: the dashboard's "broken off"), and one approved and waiting for a course
(its page's "Propose course" finds one). Sessions are claimed from the demo schedule like every
demo infusion, two or three days apart on different local days (the course spacing rules).
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from opsadmin.demo.chain import DAY, FOLLOW_UP_DAYS
from opsadmin.demo.referrals import Story, _between, _claim, _consult, _decide, _new_referral
from opsadmin.demo.schedule import Schedule, Slot
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date, local_datetime
from opsadmin.referrals.models import Referral
from opsadmin.staff.models import StaffMember

SEED = 2093113
SITE = "IND"  # the region's infusion centre
# (status, when received: days ago, completed sessions, sessions booked ahead)
COURSES = (
    ("completed", 62, 6, 0),
    ("completed", 48, 6, 0),
    ("treatment_scheduled", 12, 0, 6),
    ("in_treatment", 60, 2, 0),  # broken off
    ("approved", 9, 0, 0),  # waiting for a course
)


def add_course_stories(
    session: Session,
    schedule: Schedule,
    locations: dict[str, Location],
    staff: list[StaffMember],
    now: dt.datetime,
) -> list[Referral]:
    """Add the course referrals (their infusions claimed from ``schedule``); return them."""
    rng = random.Random(SEED)
    physicians = [s for s in staff if s.role == "physician"]
    site = locations[SITE]
    referrals = []
    for number, (status, received, done, ahead) in enumerate(COURSES, start=1):
        story = _new_referral(locations, 900 + number, "approved", now, rng)
        story.referral.consult_location = story.referral.treatment_location = site
        _shift(story, now - dt.timedelta(days=received))
        if not _consult(story, schedule, now, past=True):
            continue
        _decide(story, physicians, now, approve=True)
        if status != "approved":
            _course(story, schedule, now, done, ahead)
        session.add(story.referral)
        referrals.append(story.referral)
    return referrals


def _shift(story: Story, received_at: dt.datetime) -> None:
    """Receive the referral ``received_at`` rather than when the generic draw said."""
    referral = story.referral
    referral.received_on = local_date(referral.consult_location, received_at)
    created = local_datetime(referral.consult_location, referral.received_on, dt.time(9, 30))
    referral.events[0].at = referral.status_changed_at = story.at = created


def _course(story: Story, schedule: Schedule, now: dt.datetime, done: int, ahead: int):
    referral = story.referral
    referral.planned_sessions = 6
    site = referral.treatment_location
    completed = _sessions(story, schedule, story.at + DAY, now - DAY, done)
    start = now + DAY if ahead else None
    booked = _sessions(story, schedule, start, now + 13 * DAY, ahead) if start else []
    first = (completed or booked)[0]
    scheduled_at = _between(story.at + dt.timedelta(hours=1), first.starts_at - DAY, story.rng)
    story.move("treatment_scheduled", min(scheduled_at, now))
    for slot in completed:
        _claim(slot, story, "completed")
    for slot in booked:
        _claim(slot, story, "booked")
    if completed:
        story.move("in_treatment", completed[0].ends_at)
    referral.sessions_completed = len(completed)
    if len(completed) >= referral.planned_sessions:
        last = completed[-1]
        referral.follow_up_due_on = local_date(site, last.starts_at) + dt.timedelta(
            days=FOLLOW_UP_DAYS
        )
        story.move("completed", last.ends_at)


def _sessions(
    story: Story,
    schedule: Schedule,
    after: dt.datetime,
    limit: dt.datetime,
    count: int,
) -> list[Slot]:
    """Up to ``count`` free infusion slots, each two to five local days after the one before."""
    site = story.referral.treatment_location
    taken: list[Slot] = []
    cursor = after
    while len(taken) < count and cursor < limit:
        slot = None
        for days in (1, 2, 4):  # the day after next if a chair is free, else a little later
            before = min(cursor + days * DAY, limit)
            slot = slot or schedule.take(site, "infusion", cursor, before, story.rng)
        if slot is None:
            break
        taken.append(slot)
        slot.referral = story.referral  # claimed: no other story may take it
        next_day = local_date(site, slot.starts_at) + dt.timedelta(days=2)
        cursor = local_datetime(site, next_day, dt.time())
    return taken
