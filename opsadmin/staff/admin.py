"""Console views of staff members (credentials inline), credentials and credential rules.

A staff member belongs to the regions of the locations they work at: that is how the views scope.
Credential status is derived on today's date (:func:`opsadmin.staff.service.credential_status`)
and shown as a coloured badge; the filters compute the same status in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import flash, url_for
from flask_admin import BaseView
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_login import current_user
from markupsafe import Markup

from opsadmin.audit.service import acting_as
from opsadmin.config import setting
from opsadmin.console import MasterDataView, console_actor
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.impact import ImpactConfirmMixin
from opsadmin.labels import badge, choices, label
from opsadmin.locations.models import Location
from opsadmin.locations.scoping import region_of_location, scoped_locations
from opsadmin.staff import service
from opsadmin.staff.models import (
    CREDENTIAL_KINDS,
    Credential,
    CredentialRule,
    StaffMember,
)
from opsadmin.staff.service import RENEWAL_STATUSES
from opsadmin.validation import US_STATES, refuse_delete_with_history

STAFF = "Staff"


def warning_days() -> int:
    return int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS"))


def status_badge(view: Any, context: Any, model: Credential, name: str) -> Markup:
    """The credential's status today as a Bootstrap badge (only our own static markup)."""
    return badge(service.credential_status(model, dt.date.today(), warning_days()))


def status_condition(status: str, on: dt.date, days: int) -> sa.ColumnElement[bool]:
    """SQL for ``credential_status(...) == status``."""
    return service.credential_status_sql(on, days) == status


class CredentialStatusFilter(BaseSQLAFilter):
    def __init__(self) -> None:
        options = choices(service.CREDENTIAL_STATUSES)
        super().__init__(Credential.expires_on, "Status", options=options)

    def validate(self, value: str) -> bool:
        return value in service.CREDENTIAL_STATUSES

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        return query.filter(status_condition(value, dt.date.today(), warning_days()))

    def operation(self) -> str:
        return "is"


class RenewalDueFilter(BaseSQLAFilter):
    """Expired or expiring and not yet renewed, for an active staff member: what the dashboard
    and the follow-up digest count (:func:`opsadmin.staff.service.renewal_due`)."""

    def __init__(self) -> None:
        super().__init__(Credential.expires_on, "Renewal due", options=choices(RENEWAL_STATUSES))

    def validate(self, value: str) -> bool:
        return value in RENEWAL_STATUSES

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        return query.filter(service.renewal_due(dt.date.today(), warning_days(), value))

    def operation(self) -> str:
        return "is"


class ExpiringWithinFilter(BaseSQLAFilter):
    """Expiring within N days from today (not yet expired)."""

    def __init__(self) -> None:
        super().__init__(Credential.expires_on, "Expires within (days)")

    def validate(self, value: str) -> bool:
        return value.strip().isdigit() and int(value) <= 3650

    def clean(self, value: str) -> int:
        return int(value)

    def apply(self, query: Any, value: int, alias: Any = None) -> Any:
        today = dt.date.today()
        return query.filter(
            Credential.expires_on >= today,
            Credential.expires_on <= today + dt.timedelta(days=value),
        )

    def operation(self) -> str:
        return "days"


def _in_regions(region_ids: set[int]) -> sa.ColumnElement[bool]:
    return StaffMember.locations.any(Location.region_id.in_(region_ids or {-1}))


def _staff_regions(staff: StaffMember | None) -> set[int | None]:
    return {region_of_location(location) for location in (staff.locations if staff else [])}


CREDENTIAL_FORM_COLUMNS = service.CREDENTIAL_FIELDS
STATE_CHOICES = [("", "—")] + [(code, code) for code in sorted(US_STATES)]


def staff_sites(view: Any, context: Any, model: StaffMember, name: str) -> Markup:
    """The sites a staff member works at, each linked to its page."""
    links = [
        Markup('<a href="{}">{} · {}</a>').format(
            url_for("admin_locations.details_view", id=site.id), site.code, site.name
        )
        for site in sorted(model.locations, key=lambda site: site.code)
    ]
    return Markup(", ").join(links) if links else Markup("none")


def staff_credentials(view: Any, context: Any, model: StaffMember, name: str) -> Markup:
    """The staff member's credentials, latest expiry first, with their status today."""
    today, days = dt.date.today(), warning_days()
    rows = [
        Markup(
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>'
        ).format(
            url_for("admin_credentials.details_view", id=c.id),
            label(c.kind),
            c.state or "—",
            c.number,
            c.expires_on.isoformat(),
            badge(service.credential_status(c, today, days)),
        )
        for c in sorted(model.credentials, key=lambda c: c.expires_on, reverse=True)
    ]
    if not rows:
        return Markup("none")
    return Markup(
        '<table class="table table-sm mb-0" id="staff-credentials"><thead><tr><th>Credential</th>'
        "<th>State</th><th>Number</th><th>Expires</th><th>Status</th></tr></thead>"
        "<tbody>{}</tbody></table>"
    ).format(Markup("").join(rows))


class StaffView(ImpactConfirmMixin, MasterDataView):
    column_list = ("name", "email", "role", "locations", "active")
    column_details_list = ("name", "email", "role", "active", "locations", "credentials")
    column_formatters_detail = {"locations": staff_sites, "credentials": staff_credentials}
    column_searchable_list = ("name", "email")
    column_filters = ("role", "active", "locations.code")
    column_default_sort = "name"
    column_labels = {"locations.code": "Location code", "email": "E-mail"}
    form_columns = ("name", "email", "role", "locations", "active", "credentials")
    form_args = {"locations": {"query_factory": scoped_locations}}
    inline_models = (
        (
            Credential,
            {
                "form_columns": ("id", *CREDENTIAL_FORM_COLUMNS),
                "form_choices": {"state": STATE_CHOICES},
            },
        ),
    )

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query.filter(_in_regions(region_ids))

    def validate_model(self, model: StaffMember) -> None:
        for credential in model.credentials:
            credential.state = credential.state or None
        service.validate_staff(db.session, model)
        for credential in model.credentials:
            service.validate_credential(db.session, credential)

    def check_delete(self, model: StaffMember) -> None:
        refuse_delete_with_history(db.session, model, "staff member")

    @action(
        "deactivate",
        "Deactivate",
        "Deactivate the selected staff members? They are no longer offered for bookings.",
    )
    def action_deactivate(self, ids: list[Any]) -> None:
        rows = [row.id for row in self.rows_for_action(ids)]
        with acting_as(console_actor()):
            changed = service.deactivate_staff(db.session, rows)
            db.session.commit()
        flash(f"Deactivated {len(changed)} staff member(s).", "success")

    def regions_of(self, model: StaffMember) -> set[int | None]:
        return _staff_regions(model)


def scoped_staff() -> Any:
    query = db.select(StaffMember).order_by(StaffMember.name)
    from opsadmin.console import user_region_ids

    allowed = user_region_ids()
    if allowed is not None:
        query = query.where(_in_regions(allowed))
    return db.session.scalars(query).all()


class CredentialView(ImpactConfirmMixin, MasterDataView):
    column_list = ("staff", "kind", "state", "number", "expires_on", "status", "verified_on")
    column_searchable_list = ("number", "staff.name", "staff.email")
    column_filters = (
        FilterEqual(Credential.kind, "Kind", options=choices(CREDENTIAL_KINDS)),
        FilterEqual(Credential.state, "State", options=STATE_CHOICES[1:]),
        CredentialStatusFilter(),
        RenewalDueFilter(),
        ExpiringWithinFilter(),
    )
    column_default_sort = "expires_on"
    column_formatters = {"status": status_badge}
    column_details_list = ("staff", *CREDENTIAL_FORM_COLUMNS, "status")
    column_formatters_detail = {"status": status_badge}
    column_labels = {"staff.name": "Staff", "staff.email": "Staff e-mail"}
    form_columns = ("staff", *CREDENTIAL_FORM_COLUMNS)
    form_choices = {"state": STATE_CHOICES}
    form_args = {"staff": {"query_factory": scoped_staff}}

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query.filter(Credential.staff.has(_in_regions(region_ids)))

    def validate_model(self, model: Credential) -> None:
        model.state = model.state or None
        service.validate_credential(db.session, model)

    @action(
        "mark_verified",
        "Mark verified",
        "Record the selected credentials as verified today, by you?",
    )
    def action_mark_verified(self, ids: list[Any]) -> None:
        rows = [row.id for row in self.rows_for_action(ids)]
        try:
            with acting_as(console_actor()):
                changed = service.mark_verified(
                    db.session, rows, current_user.email, dt.date.today()
                )
                db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return
        flash(f"Marked {len(changed)} credential(s) verified.", "success")

    def regions_of(self, model: Credential) -> set[int | None]:
        return _staff_regions(model.staff)


class CredentialRuleView(MasterDataView):
    """Chain-wide rules: everyone reads them, administrators change them."""

    write_roles = ("admin",)
    column_list = ("role", "appointment_kind", "credential_kind")
    column_filters = ("role", "appointment_kind", "credential_kind")
    column_default_sort = "role"
    form_columns = ("role", "appointment_kind", "credential_kind")

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query  # not regional: every console user may read the rules

    def validate_model(self, model: CredentialRule) -> None:
        service.validate_credential_rule(db.session, model)

    def regions_of(self, model: CredentialRule) -> set[int | None]:
        return set()


def admin_views() -> list[BaseView]:
    """Staff (credentials inline), credentials, credential rules."""
    return [
        StaffView(
            StaffMember, db, name="Staff", category=STAFF, endpoint="admin_staff", url="staff"
        ),
        CredentialView(
            Credential,
            db,
            name="Credentials",
            category=STAFF,
            endpoint="admin_credentials",
            url="credentials",
        ),
        CredentialRuleView(
            CredentialRule,
            db,
            name="Credential rules",
            category=STAFF,
            endpoint="admin_credential_rules",
            url="credential_rules",
        ),
    ]
