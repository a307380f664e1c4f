"""Console views of referrals: the list with filters (stalled included), the detail page with the
event timeline, screenings and where treatment could start, and the transition actions.

Actions POST (with the CSRF token) to :func:`opsadmin.referrals.service.transition`, the function
the API calls, so both leave the same events; a refusal is flashed as the service worded it.
Regional leads read only (the base view answers their POSTs with 403). Scoping: a referral is in a
user's regions when its consult **or** treatment location is. Every detail view is audited.

The detail page asks the bookings feature's availability which treatment sites have a free chair:
a page composing two features; the referral rules themselves (service.py) never depend on bookings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, request
from flask_admin import BaseView, expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from werkzeug.datastructures import MultiDict

from opsadmin.audit import service as audit
from opsadmin.bookings.availability import availability
from opsadmin.bookings.course_admin import CourseConsole, course_context
from opsadmin.console import SecureModelView, user_region_ids
from opsadmin.db import begin_immediate, utcnow
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.labels import choices, label
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date, zone
from opsadmin.referrals import service
from opsadmin.referrals.models import CONTRAINDICATIONS, INDICATIONS, REFERRAL_STATUSES, Referral
from opsadmin.rooms.models import Room
from opsadmin.staff.models import CLINICIAN_ROLES, StaffMember, staff_location

# How far ahead, and for how long a chair, the detail page looks for a first infusion.
CAPACITY_DAYS = 14
INFUSION_MINUTES = 120
ACTION_LABELS = {
    "consult_scheduled": "Mark consult scheduled",
    "consulted": "Mark consulted",
    "approved": "Approve",
    "declined": "Decline",
    "treatment_scheduled": "Mark treatment scheduled",
    "in_treatment": "Mark in treatment",
    "completed": "Mark completed",
    "received": "Back to received",
    "withdrawn": "Withdraw",
}


class StalledFilter(BaseSQLAFilter):
    """Stalled (or not) by the stalled thresholds — the API's and the reports' rule."""

    def __init__(self) -> None:
        super().__init__(Referral.status, "Stalled", options=(("1", "yes"), ("0", "no")))

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        stalled = service.stalled_filter()
        return query.filter(stalled if value == "1" else ~stalled)

    def operation(self) -> str:
        return "is"


class FunnelStageFilter(BaseSQLAFilter):
    """Received in the funnel's window (OPSADMIN_FUNNEL_DAYS) and reached the stage: the rows
    behind the dashboard's and the digest's funnel figures."""

    def __init__(self) -> None:
        super().__init__(Referral.status, "Funnel stage", options=choices(service.FUNNEL))

    def validate(self, value: str) -> bool:
        return value in service.FUNNEL

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        return query.filter(service.in_funnel_stage(value, dt.date.today()))

    def operation(self) -> str:
        return "reached"


class AtLocationFilter(BaseSQLAFilter):
    """Consulted or treated at a location (by code)."""

    def __init__(self) -> None:
        super().__init__(Referral.consult_location_id, "Location (consult or treatment)")

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        located = sa.select(Location.id).where(Location.code == value.strip().upper())
        return query.filter(
            sa.or_(
                Referral.consult_location_id.in_(located),
                Referral.treatment_location_id.in_(located),
            )
        )

    def operation(self) -> str:
        return "code is"


class ChoiceFilter(BaseSQLAFilter):
    def __init__(self, column: Any, name: str, values: tuple[str, ...]) -> None:
        super().__init__(column, name, options=choices(values))

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        return query.filter(self.column == value)

    def operation(self) -> str:
        return "is"


@dataclass(frozen=True)
class SiteCapacity:
    """A treatment site and the first start with a free infusion chair (None: none soon)."""

    location: Location
    first_free: dt.datetime | None


class ReferralView(CourseConsole, SecureModelView):
    """Referrals come from the API (or `seed-demo`); the console moves them, it does not edit them."""

    can_create = False
    can_edit = False
    can_delete = False
    details_template = "referrals/details.html"
    column_list = (
        "id",
        "status",
        "indication",
        "consult_location",
        "treatment_location",
        "received_on",
        "sessions_completed",
        "planned_sessions",
        "follow_up_due_on",
        "status_changed_at",
    )
    column_details_list = (
        "id",
        "status",
        "patient_ref",
        "indication",
        "referring_provider_name",
        "referring_provider_npi",
        "referring_provider_practice",
        "received_on",
        "consult_location",
        "treatment_location",
        "planned_sessions",
        "sessions_completed",
        "follow_up_due_on",
        "status_changed_at",
    )
    column_export_exclude_list = ("events", "screenings")
    column_searchable_list = ("patient_ref", "referring_provider_name", "referring_provider_npi")
    column_sortable_list = ("id", "status", "received_on", "follow_up_due_on", "status_changed_at")
    column_default_sort = ("received_on", True)
    column_filters = (
        ChoiceFilter(Referral.status, "Status", REFERRAL_STATUSES),
        ChoiceFilter(Referral.indication, "Indication", INDICATIONS),
        AtLocationFilter(),
        StalledFilter(),
        FunnelStageFilter(),
        "received_on",
        "follow_up_due_on",
    )
    column_labels = {
        "status_changed_at": "In status since (UTC)",
        "referring_provider_name": "Referring provider",
        "referring_provider_npi": "NPI",
        "referring_provider_practice": "Practice",
    }

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query.filter(service.in_regions(region_ids))

    # -- detail ----------------------------------------------------------------------------------
    @expose("/details/")
    def details_view(self):
        referral = self.get_one(request.args.get("id", ""))
        if referral is not None:
            audit.record(db.session, "view", entity="Referral", entity_id=referral.id)
            db.session.commit()
            self._template_args.update(self.detail_context(referral))
        return super().details_view()

    def detail_context(self, referral: Referral) -> dict[str, Any]:
        allowed = service.allowed_transitions(referral)
        return {
            "referral": referral,
            "transitions": [(to, ACTION_LABELS[to]) for to in allowed],
            "screened": service.SCREENED_TRANSITIONS,
            "contraindications": CONTRAINDICATIONS,
            "physicians": physicians_for(referral),
            "capacity": treatment_capacity(referral, user_region_ids())
            if self._treatment_ahead(referral)
            else [],
            "can_move": self.can_write() and bool(allowed),
            "label": label,
            "local_time": local_time,
            **course_context(referral),
        }

    @staticmethod
    def _treatment_ahead(referral: Referral) -> bool:
        return referral.status in ("consulted", "approved", "treatment_scheduled", "in_treatment")

    # -- actions ---------------------------------------------------------------------------------
    @expose("/transition/", methods=("POST",))
    def transition_view(self):
        form = request.form
        # End the read the access check began, then write as SQLite's one writer (see db.py).
        db.session.commit()
        begin_immediate(db.session)
        referral = self.get_one(form.get("id", ""))
        if referral is None:
            flash("Record does not exist.", "error")
            return redirect(self.get_url(".index_view"))
        to = form.get("to", "")
        try:
            service.transition(
                db.session, referral.id, to, form.get("reason", ""), screening_from(form, to)
            )
        except DomainError as error:
            db.session.rollback()
            flash(refusal(error), "error")
        else:
            db.session.commit()
            flash(f"Referral #{referral.id} is now {label(to).lower()}.", "success")
        return redirect(self.get_url(".details_view", id=referral.id))


def local_time(site: Location, instant: dt.datetime) -> str:
    return instant.astimezone(zone(site.timezone)).strftime("%a %d %b %H:%M")


def screening_from(form: MultiDict, to: str) -> dict[str, Any] | None:
    """The screening part of an approve/decline form (none for other transitions)."""
    if to not in service.SCREENED_TRANSITIONS:
        return None
    decided_by = form.get("decided_by", type=int)
    return {
        "decided_by": decided_by,
        "flags": form.getlist("flags"),
        "override": form.get("override", ""),
    }


def refusal(error: DomainError) -> str:
    """The service's message, made readable for a person (the code is for machines)."""
    if error.code == "invalid_transition":
        return f"Not done: {error.message} Reload the page to see the referral as it is now."
    return f"Not done: {error.message}"


def physicians_for(referral: Referral) -> list[StaffMember]:
    """Who may decide the screening: active physicians, those at the consult site first."""
    physicians = db.session.scalars(
        sa.select(StaffMember)
        .where(StaffMember.role == "physician", StaffMember.active.is_(True))
        .order_by(StaffMember.name)
    ).all()
    here = [p for p in physicians if referral.consult_location in p.locations]
    return here + [p for p in physicians if p not in here]


def candidate_sites(referral: Referral, region_ids: set[int] | None = None) -> list[Location]:
    """Active sites with an active infusion room and an active clinician in the treatment site's
    region (within ``region_ids``, None: all), the treatment site first."""
    query = (
        sa.select(Location)
        .where(
            Location.active.is_(True),
            Location.region_id == referral.treatment_location.region_id,
            sa.exists().where(
                Room.location_id == Location.id, Room.kind == "infusion", Room.active.is_(True)
            ),
            # A site nobody could staff would cost fourteen empty availability look-ups.
            sa.exists().where(
                staff_location.c.location_id == Location.id,
                staff_location.c.staff_id == StaffMember.id,
                StaffMember.role.in_(CLINICIAN_ROLES),
                StaffMember.active.is_(True),
            ),
        )
        .order_by(Location.code)
    )
    if region_ids is not None:
        query = query.where(Location.region_id.in_(region_ids or {-1}))
    sites = db.session.scalars(query).all()
    return sorted(sites, key=lambda site: site.id != referral.treatment_location_id)


def treatment_capacity(
    referral: Referral, region_ids: set[int] | None, days: int = CAPACITY_DAYS
) -> list[SiteCapacity]:
    """For each candidate site, the first start within the next ``days`` local days where an
    infusion of INFUSION_MINUTES has a free chair and an eligible clinician (None: no capacity).

    Days are asked one by one and the search stops at the first free one: a site with room
    costs one availability call, a full one ``days`` calls.
    """
    sites = candidate_sites(referral, region_ids)
    return [SiteCapacity(site, first_free_infusion(site, days)) for site in sites]


def first_free_infusion(site: Location, days: int) -> dt.datetime | None:
    now = utcnow()
    today = local_date(site, now)
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        found = availability(db.session, site.code, day, "infusion", INFUSION_MINUTES)
        starts = [slot.starts_at for slot in found.slots if slot.starts_at > now]
        if starts and found.eligible_staff:
            return min(starts)
    return None


def admin_views() -> list[BaseView]:
    """The views the console shows for this feature, in menu order."""
    return [
        ReferralView(
            Referral,
            db,
            name="Referrals",
            category="Referrals",
            endpoint="admin_referrals",
            url="referrals",
        )
    ]
