"""Console views of staff members (credentials inline), credentials and credential rules.

A staff member belongs to the regions of the locations they work at: that is how the views scope.
Credential status is derived on today's date (:func:`opsadmin.staff.service.credential_status`)
and shown as a coloured badge; the filters compute the same status in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_admin import BaseView
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from markupsafe import Markup, escape

from opsadmin.config import setting
from opsadmin.console import MasterDataView
from opsadmin.extensions import db
from opsadmin.impact import ImpactConfirmMixin
from opsadmin.locations.models import Location
from opsadmin.locations.scoping import region_of_location, scoped_locations
from opsadmin.staff import service
from opsadmin.staff.models import (
    APPOINTMENT_KINDS,
    CREDENTIAL_KINDS,
    STAFF_ROLES,
    Credential,
    CredentialRule,
    StaffMember,
)
from opsadmin.validation import US_STATES, refuse_delete_with_history

STAFF = "Staff"
BADGE_CLASSES = {
    "valid": "badge-success",
    "expiring": "badge-warning",
    "expired": "badge-danger",
    "unverified": "badge-secondary",
}
KIND_CHOICES = [(kind, kind.replace("_", " ")) for kind in CREDENTIAL_KINDS]
ROLE_CHOICES = [(role, role.replace("_", " ")) for role in STAFF_ROLES]


def warning_days() -> int:
    return int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS"))


def status_badge(view: Any, context: Any, model: Credential, name: str) -> Markup:
    """The credential's status today as a Bootstrap badge (only our own static markup)."""
    status = service.credential_status(model, dt.date.today(), warning_days())
    css = BADGE_CLASSES.get(status, "badge-secondary")
    return Markup('<span class="badge {}">{}</span>').format(css, escape(status))


def status_condition(status: str, on: dt.date, days: int) -> sa.ColumnElement[bool]:
    """SQL for ``credential_status(...) == status``."""
    return service.credential_status_sql(on, days) == status


class CredentialStatusFilter(BaseSQLAFilter):
    def __init__(self) -> None:
        options = [(status, status) for status in service.CREDENTIAL_STATUSES]
        super().__init__(Credential.expires_on, "Status", options=options)

    def validate(self, value: str) -> bool:
        return value in service.CREDENTIAL_STATUSES

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        return query.filter(status_condition(value, dt.date.today(), warning_days()))

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


class StaffView(ImpactConfirmMixin, MasterDataView):
    column_list = ("name", "email", "role", "locations", "active")
    column_searchable_list = ("name", "email")
    column_filters = ("role", "active", "locations.code")
    column_default_sort = "name"
    column_labels = {"locations.code": "Location code", "email": "E-mail"}
    form_columns = ("name", "email", "role", "locations", "active", "credentials")
    form_choices = {"role": ROLE_CHOICES}
    form_args = {"locations": {"query_factory": scoped_locations}}
    inline_models = (
        (
            Credential,
            {
                "form_columns": ("id", *CREDENTIAL_FORM_COLUMNS),
                "form_choices": {"kind": KIND_CHOICES, "state": STATE_CHOICES},
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
        FilterEqual(Credential.kind, "Kind", options=KIND_CHOICES),
        FilterEqual(Credential.state, "State", options=STATE_CHOICES[1:]),
        CredentialStatusFilter(),
        ExpiringWithinFilter(),
    )
    column_default_sort = "expires_on"
    column_formatters = {"status": status_badge}
    column_details_list = ("staff", *CREDENTIAL_FORM_COLUMNS, "status")
    column_formatters_detail = {"status": status_badge}
    column_labels = {"staff.name": "Staff", "staff.email": "Staff e-mail"}
    form_columns = ("staff", *CREDENTIAL_FORM_COLUMNS)
    form_choices = {"kind": KIND_CHOICES, "state": STATE_CHOICES}
    form_args = {"staff": {"query_factory": scoped_staff}}

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query.filter(Credential.staff.has(_in_regions(region_ids)))

    def validate_model(self, model: Credential) -> None:
        model.state = model.state or None
        service.validate_credential(db.session, model)

    def regions_of(self, model: Credential) -> set[int | None]:
        return _staff_regions(model.staff)


class CredentialRuleView(MasterDataView):
    """Chain-wide rules: everyone reads them, administrators change them."""

    write_roles = ("admin",)
    column_list = ("role", "appointment_kind", "credential_kind")
    column_filters = ("role", "appointment_kind", "credential_kind")
    column_default_sort = "role"
    form_columns = ("role", "appointment_kind", "credential_kind")
    form_choices = {
        "role": ROLE_CHOICES,
        "appointment_kind": [(kind, kind.replace("_", " ")) for kind in APPOINTMENT_KINDS],
        "credential_kind": KIND_CHOICES,
    }

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
