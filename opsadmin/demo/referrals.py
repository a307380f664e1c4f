"""The demo's referrals: each one's story written onto the schedule's slots."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from opsadmin.audit.service import acting_as
from opsadmin.demo.chain import ACTOR, DAY, FOLLOW_UP_DAYS, SITES, npi_number
from opsadmin.demo.schedule import INDICATION_WEIGHTS, Schedule, Slot
from opsadmin.locations.models import (
    Location,
)
from opsadmin.locations.service import local_date, local_datetime
from opsadmin.referrals.models import Referral, ReferralEvent, Screening
from opsadmin.referrals.service import record_transition
from opsadmin.staff.models import StaffMember

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


@dataclass
class Story:
    """One referral's history as it is being written."""

    referral: Referral
    at: dt.datetime  # when the last event happened
    rng: random.Random
    # A referral in treatment with no session ahead: the follow-up digest calls it stalled.
    stalled: bool = False

    def move(self, to: str, at: dt.datetime, reason: str = "") -> None:
        """The referral's next step, through the state machine itself (an illegal one raises)."""
        with acting_as(ACTOR):
            record_transition(self.referral, to, at=at, reason=reason)
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
        # Approving with a flag needs a written override.
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
