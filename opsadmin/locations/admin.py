"""Console views of the locations feature: regions, location closures, site registrations.

The Locations view itself lives in :mod:`opsadmin.rooms.admin`: it shows rooms inline, and rooms
build on locations, not the other way round. The console places the closures and registrations
after it in the "Sites" menu (see :mod:`opsadmin.admin`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_admin import BaseView
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from markupsafe import Markup
from wtforms import StringField

from opsadmin.config import setting
from opsadmin.console import SITES, MasterDataView
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.impact import ImpactConfirmMixin
from opsadmin.labels import badge, choices
from opsadmin.locations import licensing, service
from opsadmin.locations.models import (
    SITE_REGISTRATION_KINDS,
    Location,
    LocationClosure,
    Region,
    SiteRegistration,
    SiteRule,
)
from opsadmin.locations.scoping import region_of_location, scoped_locations

# Console endpoints are "admin_<slug>" at /admin/<slug>/: the API's blueprints own the bare names.


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


def _warning_days() -> int:
    return int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS"))


class RegistrationStatusFilter(BaseSQLAFilter):
    """Status today. Expiring and expired leave out a registration already renewed (a newer one of
    the same kind and state at the site), as the dashboard and the follow-up digest count them."""

    def __init__(self) -> None:
        options = choices(service.REGISTRATION_STATUSES)
        super().__init__(SiteRegistration.expires_on, "Status", options=options)

    def validate(self, value: str) -> bool:
        return value in service.REGISTRATION_STATUSES

    def apply(self, query: Any, value: str, alias: Any = None) -> Any:
        today = dt.date.today()
        if value == "valid":
            return query.filter(service.registration_status_sql(today, _warning_days()) == value)
        return query.filter(service.registration_due(today, _warning_days(), value))

    def operation(self) -> str:
        return "is"


def registration_badge(view: Any, context: Any, model: SiteRegistration, name: str) -> Markup:
    return badge(service.registration_status(model.expires_on, dt.date.today(), _warning_days()))


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
    form_choices = {"registration_kind": choices(SITE_REGISTRATION_KINDS)}
    column_labels = {"registration_kind": "Registration needed"}

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query  # not regional: every console user may read the rules

    def validate_model(self, model: SiteRule) -> None:
        licensing.validate_site_rule(db.session, model)

    def regions_of(self, model: SiteRule) -> set[int | None]:
        return set()


def admin_views() -> list[BaseView]:
    """Regions. The rest of the "Sites" menu: locations with rooms inline
    (:mod:`opsadmin.rooms.admin`), then :func:`closure_and_registration_views`."""
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
