"""Console views of the locations feature, and the base every master-data view shares.

:class:`MasterDataView` runs the feature's service validator on the object the form populated
(``on_model_change``), so the console and the API refuse the same bad data with the same message:
the message is flashed and attached to the form fields, the transaction is rolled back, and
nothing is saved — no row, no audit event. Writes are audited as the signed-in user.

The Locations view itself lives in :mod:`opsadmin.rooms.admin`: it shows rooms inline, and rooms
build on locations, not the other way round.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import current_app, request
from flask_admin import BaseView
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import StringField
from wtforms.validators import ValidationError

from opsadmin.audit.service import Actor, acting_as
from opsadmin.auth.admin import SecureModelView, user_region_ids
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.impact import ImpactConfirmMixin
from opsadmin.locations import licensing, service
from opsadmin.locations.models import (
    SITE_REGISTRATION_KINDS,
    Location,
    LocationClosure,
    Region,
    SiteRegistration,
    SiteRule,
)

SITES = "Sites"
TIMESTAMPS = ("created_at", "updated_at")
# Console endpoints are "admin_<slug>" at /admin/<slug>/: the API's blueprints own the bare names.


def console_actor() -> Actor:
    """The signed-in console user as the audit actor."""
    return Actor("user", current_user.id, current_user.email, request.remote_addr or "")


class MasterDataView(SecureModelView):
    """A scoped model view whose writes go through the feature's service rules."""

    form_excluded_columns = TIMESTAMPS
    column_exclude_list = TIMESTAMPS

    # -- rules ---------------------------------------------------------------------------------
    def validate_model(self, model: Any) -> None:
        """Raise a DomainError when ``model`` breaks a rule (override with the service call)."""

    def check_delete(self, model: Any) -> None:
        """Raise a DomainError when ``model`` may not be deleted (override)."""

    def regions_of(self, model: Any) -> set[int | None]:
        """The regions ``model`` belongs to, for checking a scoped user's write (override)."""
        return set()

    # -- flask-admin hooks ---------------------------------------------------------------------
    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        # No autoflush: the populated object must not reach the database before it is checked
        # (a CHECK constraint would answer first, with an unreadable IntegrityError).
        with db.session.no_autoflush:
            self._check_write_scope(model)
            try:
                self.validate_model(model)
            except DomainError as error:
                _attach_errors(form, error.errors or {})
                raise ValidationError(error.message) from error

    def on_model_delete(self, model: Any) -> None:
        with db.session.no_autoflush:
            self._check_write_scope(model)
            try:
                self.check_delete(model)
            except DomainError as error:
                raise ValidationError(error.message) from error

    def _check_write_scope(self, model: Any) -> None:
        allowed = user_region_ids()
        if allowed is None:
            return
        regions = self.regions_of(model)
        if not regions or not regions <= allowed:
            raise ValidationError("You can only change records of your own regions.")

    def create_model(self, form: Any) -> Any:
        with acting_as(console_actor()):
            return super().create_model(form)

    def update_model(self, form: Any, model: Any) -> bool:
        with acting_as(console_actor()):
            return super().update_model(form, model)

    def delete_model(self, model: Any) -> bool:
        with acting_as(console_actor()):
            return super().delete_model(model)


def _attach_errors(form: Any, errors: dict[str, Any]) -> None:
    """Show the service's per-field messages next to the fields the form has."""
    for name, messages in errors.items():
        field = form._fields.get(name) if hasattr(form, "_fields") else None
        if field is None:
            continue
        more = messages if isinstance(messages, list) else [str(messages)]
        field.errors = [*field.errors, *more]


def scoped_regions() -> Iterable[Region]:
    """The regions the current user may choose in a form."""
    query = db.select(Region).order_by(Region.code)
    allowed = user_region_ids()
    if allowed is not None:
        query = query.where(Region.id.in_(allowed or {-1}))
    return db.session.scalars(query).all()


def scoped_locations() -> Iterable[Location]:
    """The locations the current user may choose in a form."""
    query = db.select(Location).order_by(Location.code)
    allowed = user_region_ids()
    if allowed is not None:
        query = query.where(Location.region_id.in_(allowed or {-1}))
    return db.session.scalars(query).all()


def region_of_location(location: Location | None) -> int | None:
    if location is None:
        return None
    return location.region.id if location.region is not None else location.region_id


class EmailListField(StringField):
    """A list of e-mail addresses typed as one comma-separated line."""

    def _value(self) -> str:
        return ", ".join(self.data or [])

    def process_formdata(self, valuelist: list[str]) -> None:
        text = valuelist[0] if valuelist else ""
        self.data = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


# -- views -------------------------------------------------------------------------------------
class RegionView(MasterDataView):
    """Administrators edit regions; others read their own."""

    write_roles = ("admin",)
    region_column = Region.id
    column_list = ("code", "name", "lead_emails")
    column_searchable_list = ("code", "name")
    column_default_sort = "code"
    form_columns = ("code", "name", "lead_emails")
    form_overrides = {"lead_emails": EmailListField}
    form_args = {"lead_emails": {"description": "Report recipients, separated by commas."}}
    column_labels = {"lead_emails": "Lead e-mails"}

    def validate_model(self, model: Region) -> None:
        service.validate_region(db.session, model)

    def check_delete(self, model: Region) -> None:
        if model.locations:
            raise DomainError("This region still has locations: move or delete them first.")

    def regions_of(self, model: Region) -> set[int | None]:
        return {model.id}


class LocationClosureView(ImpactConfirmMixin, MasterDataView):
    region_column = Location.region_id
    scope_joins = (LocationClosure.location,)
    column_list = ("location", "starts_on", "ends_on", "reason")
    column_searchable_list = ("reason", "location.code", "location.name")
    column_filters = ("location.code", "starts_on", "ends_on")
    column_default_sort = ("starts_on", True)
    form_columns = ("location", "starts_on", "ends_on", "reason")
    form_args = {"location": {"query_factory": scoped_locations}}
    column_labels = {"location.code": "Location code", "location.name": "Location"}

    def validate_model(self, model: LocationClosure) -> None:
        service.validate_location_closure(db.session, model)

    def regions_of(self, model: LocationClosure) -> set[int | None]:
        return {region_of_location(model.location)}


REGISTRATION_BADGES = {
    "valid": "badge-success",
    "expiring": "badge-warning",
    "expired": "badge-danger",
}


def _warning_days() -> int:
    return int(current_app.config.get("OPSADMIN_CREDENTIAL_WARNING_DAYS", 60))


class RegistrationStatusFilter(BaseSQLAFilter):
    """Status today. Expiring and expired leave out a registration already renewed (a newer one of
    the same kind and state at the site), as the dashboard and the follow-up digest count them."""

    def __init__(self) -> None:
        options = [(status, status) for status in service.REGISTRATION_STATUSES]
        super().__init__(SiteRegistration.expires_on, "Status", options=options)

    def validate(self, value: str) -> bool:
        return value in service.REGISTRATION_STATUSES

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        today = dt.date.today()
        horizon = today + dt.timedelta(days=_warning_days())
        expires = SiteRegistration.expires_on
        if value == "valid":
            return query.filter(expires > horizon)
        window = expires < today if value == "expired" else expires.between(today, horizon)
        return query.filter(window, ~service.registration_renewed())

    def operation(self) -> str:
        return "is"


def registration_badge(view: Any, context: Any, model: SiteRegistration, name: str) -> Markup:
    status = service.registration_status(model.expires_on, dt.date.today(), _warning_days())
    css = REGISTRATION_BADGES[status]
    return Markup('<span class="badge {}">{}</span>').format(css, escape(status))


class SiteRegistrationView(ImpactConfirmMixin, MasterDataView):
    region_column = Location.region_id
    scope_joins = (SiteRegistration.location,)
    column_list = ("location", "kind", "number", "state", "issued_on", "expires_on", "status")
    column_details_list = column_list
    column_export_list = column_list[:-1]
    column_searchable_list = ("number", "location.code", "location.name")
    column_filters = ("kind", "state", "expires_on", "location.code", RegistrationStatusFilter())
    column_formatters = {"status": registration_badge}
    column_formatters_detail = {"status": registration_badge}
    column_default_sort = "expires_on"
    form_columns = ("location", "kind", "number", "state", "issued_on", "expires_on")
    form_choices = {"kind": [(kind, kind.replace("_", " ")) for kind in SITE_REGISTRATION_KINDS]}
    form_args = {"location": {"query_factory": scoped_locations}}
    column_labels = {"location.code": "Location code", "location.name": "Location"}

    def validate_model(self, model: SiteRegistration) -> None:
        service.validate_site_registration(db.session, model)

    def regions_of(self, model: SiteRegistration) -> set[int | None]:
        return {region_of_location(model.location)}


class SiteRuleView(ImpactConfirmMixin, MasterDataView):
    """Which registrations a site needs to take infusions, per state: everyone reads them,
    administrators change them (a change re-judges the state's future infusions)."""

    write_roles = ("admin",)
    column_list = ("state", "registration_kind")
    column_filters = ("state", "registration_kind")
    column_searchable_list = ("state",)
    column_default_sort = "state"
    form_columns = ("state", "registration_kind")
    form_choices = {
        "registration_kind": [(kind, kind.replace("_", " ")) for kind in SITE_REGISTRATION_KINDS]
    }
    column_labels = {"registration_kind": "Registration needed"}

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query  # not regional: every console user may read the rules

    def validate_model(self, model: SiteRule) -> None:
        licensing.validate_site_rule(db.session, model)

    def regions_of(self, model: SiteRule) -> set[int | None]:
        return set()


def admin_views() -> list[BaseView]:
    """Regions. The rest of the "Sites" menu (locations with rooms inline, closures,
    registrations) is added by :mod:`opsadmin.rooms.admin`, in the order people look for it."""
    return [
        RegionView(
            Region, db, name="Regions", category=SITES, endpoint="admin_regions", url="regions"
        )
    ]


def closure_and_registration_views() -> list[BaseView]:
    return [
        LocationClosureView(
            LocationClosure,
            db,
            name="Location closures",
            category=SITES,
            endpoint="admin_location_closures",
            url="location_closures",
        ),
        SiteRegistrationView(
            SiteRegistration,
            db,
            name="Site registrations",
            category=SITES,
            endpoint="admin_site_registrations",
            url="site_registrations",
        ),
        SiteRuleView(
            SiteRule,
            db,
            name="Site rules",
            category=SITES,
            endpoint="admin_site_rules",
            url="site_rules",
        ),
    ]
