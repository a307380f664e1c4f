"""The console's secured base views: every console view of every feature derives from one of these.

Access: anonymous users are sent to the login page; a signed-in user whose role is not allowed
gets 403. Roles: ``admin`` (everything), ``ops_manager`` (edits, scoped to their
regions), ``regional_lead`` (read-only, own regions).

:class:`MasterDataView` runs the feature's service validator on the object the form populated
(``on_model_change``), so the console and the API refuse the same bad data with the same message:
the message is flashed and attached to the form fields, the transaction is rolled back, and
nothing is saved — no row, no audit event. Writes are audited as the signed-in user.

Scoping: a view says how its rows belong to a region by overriding :meth:`scope_query` (most do it
by naming ``region_column`` and the ``scope_joins`` that reach it). It applies to the list, the
count, a typed ``?id=`` (``get_one``), edits, deletes, actions, exports, the choices of relation
fields and ``form_ajax_refs`` lookups alike (the last two through the view of the related model).
A row saved outside the user's regions is refused. Forms carry a CSRF token (SecureForm).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, request, stream_with_context, url_for
from flask_admin import AdminIndexView, BaseView
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.form import BaseForm, SecureForm
from flask_admin.model import typefmt
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms.validators import ValidationError

from opsadmin import impact
from opsadmin.audit.service import Actor, acting_as
from opsadmin.config import setting
from opsadmin.csvsafe import csv_line, neutralise_cell
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.labelled_views import LabelledViewMixin

WRITE_ROLES = ("admin", "ops_manager")
ALL_ROLES = ("admin", "ops_manager", "regional_lead")


def console_user_ok() -> bool:
    """Signed in, active, and past every login step (password, then TOTP)."""
    from opsadmin.auth.console import session_fully_authenticated

    return bool(current_user.is_authenticated and current_user.active) and (
        session_fully_authenticated()
    )


def user_region_ids() -> set[int] | None:
    """The regions the current user may see; None means all (administrators)."""
    if current_user.role == "admin":
        return None
    return {region.id for region in current_user.regions}


def console_datetime(view: Any, value: dt.datetime, name: str) -> str:
    """An instant as lists and detail pages show it: UTC to the second, ``2026-11-24 02:24:10 UTC``
    (not ``str()``'s microseconds and ``+00:00``). Exports keep the full ISO value."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


class ConsoleSecureForm(SecureForm):
    """flask-admin's SecureForm with Flask-WTF's token, so one token satisfies both checks.

    The global CSRF check (opsadmin.admin.security) and the form agree on the token; both follow
    WTF_CSRF_ENABLED (the shared test configuration turns it off; the console tests turn it on).
    """

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> Any:
            return BaseForm.Meta._translations


def _utc_filter(filter_class: type) -> type:
    """A datetime filter whose typed values are read as UTC (UTCDateTime refuses naive values)."""

    class UtcFilter(filter_class):
        def clean(self, value: Any) -> Any:
            cleaned = super().clean(value)
            if isinstance(cleaned, list):
                return [item.replace(tzinfo=dt.UTC) for item in cleaned]
            return cleaned.replace(tzinfo=dt.UTC)

    UtcFilter.__name__ = f"Utc{filter_class.__name__}"
    return UtcFilter


class ConsoleFilterConverter(sqla_filters.FilterConverter):
    """flask-admin's filters, taught the project's column types (UTCDateTime)."""

    utc_datetime_filters = tuple(
        _utc_filter(f) if f is not sqla_filters.FilterEmpty else f
        for f in sqla_filters.FilterConverter.datetime_filters
    )

    def convert(self, type_name: str, column: Any, name: str, **kwargs: Any) -> Any:
        if type_name.lower() == "utcdatetime":
            return [f(column, name, **kwargs) for f in self.utc_datetime_filters]
        return super().convert(type_name, column, name, **kwargs)


class SecureMixin:
    """Access control shared by model views and plain views."""

    allowed_roles: tuple[str, ...] = ALL_ROLES

    def is_accessible(self) -> bool:
        return console_user_ok() and current_user.role in self.allowed_roles

    def inaccessible_callback(self, name: str, **kwargs: Any):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        from opsadmin.auth.console import pending_login_step

        step = pending_login_step()
        if step is not None:
            return redirect(step)
        abort(403)


class SecureView(SecureMixin, BaseView):
    """A plain console page."""


class SecureIndexView(SecureMixin, AdminIndexView):
    """The console's home."""


class _WriteCapability:
    """``can_create``/``can_edit``/``can_delete`` that are False for users who may not write, so
    the pages offer regional leads no button they would be refused."""

    def __init__(self, default: bool) -> None:
        self.default = default

    def __get__(self, view: Any, owner: Any = None) -> bool:
        if view is None or not self.default:
            return self.default
        from flask import has_request_context

        return not has_request_context() or view.can_write()


class ScopedAjaxModelLoader(QueryAjaxModelLoader):
    """A ``form_ajax_refs`` loader that offers only the rows the user may see."""

    def __init__(self, view: SecureModelView, name: str, session: Any, model: Any, **options: Any):
        super().__init__(name, session, model, **options)
        self.view = view

    def get_query(self):
        return self.view.scope_related(super().get_query(), self.model)

    def get_one(self, pk: Any):
        with db.session.no_autoflush:
            return self.view.scoped_get(self.get_query(), self.model, pk)


class SecureModelView(LabelledViewMixin, SecureMixin, ModelView):
    """A model's list/create/edit/details/export pages with roles and regional scoping."""

    # Writes need one of these roles; regional leads only read.
    write_roles: tuple[str, ...] = WRITE_ROLES
    # The column holding the row's region id, and the relationships to join to reach it.
    region_column: Any = None
    scope_joins: tuple[Any, ...] = ()
    form_base_class = ConsoleSecureForm
    filter_converter = ConsoleFilterConverter()
    column_type_formatters = {**typefmt.BASE_FORMATTERS, dt.datetime: console_datetime}
    column_type_formatters_detail = {**typefmt.DETAIL_FORMATTERS, dt.datetime: console_datetime}
    can_create = _WriteCapability(True)
    can_edit = _WriteCapability(True)
    can_delete = _WriteCapability(True)
    can_view_details = True
    can_export = True
    export_types = ["csv"]
    page_size = 25
    page_size_options = (25, 50, 100)
    can_set_page_size = True

    # -- roles ---------------------------------------------------------------------------------
    def can_write(self) -> bool:
        return console_user_ok() and current_user.role in self.write_roles

    def _handle_view(self, name: str, **kwargs: Any):
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        if name in ("create_view", "edit_view", "delete_view", "action_view", "ajax_update"):
            if not self.can_write():
                abort(403)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not self.can_write():
            abort(403)
        return None

    def is_action_allowed(self, name: str) -> bool:
        return self.can_write() and super().is_action_allowed(name)

    # -- scoping -------------------------------------------------------------------------------
    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        # Read the column off the class: through the instance, a mapped attribute (a descriptor)
        # would look for the view's own mapped state.
        column = type(self).region_column
        if column is None:
            # A view that says nothing about regions shows nothing to a scoped user.
            return query.filter(sa.false())
        for join in self.scope_joins:
            query = query.join(join)
        return query.filter(column.in_(region_ids or {-1}))

    def _scoped(self, query: Any) -> Any:
        region_ids = user_region_ids()
        return query if region_ids is None else self.scope_query(query, region_ids)

    def get_query(self):
        return self._scoped(super().get_query())

    def get_count_query(self):
        return self._scoped(super().get_count_query())

    def get_one(self, id: Any):
        from flask_admin.contrib.sqla import tools

        if len(self.model.__mapper__.primary_key) != 1:
            return super().get_one(id)
        return self.scoped_get(self.get_query(), self.model, tools.iterdecode(id))

    @staticmethod
    def scoped_get(query: Any, model: Any, pk: Any) -> Any:
        """The row ``pk`` of ``query``, or None; a hand-typed ``?id=abc`` is simply not found."""
        column = model.__mapper__.primary_key[0]
        if isinstance(pk, tuple | list):  # flask-admin's iterdecode answers a tuple
            if len(pk) != 1:
                return None
            pk = pk[0]
        try:
            pk = column.type.python_type(pk)
        except (TypeError, ValueError, NotImplementedError):
            return None
        return query.filter(column == pk).one_or_none()

    @action("delete", "Delete", "Are you sure you want to delete selected records?")
    def action_delete(self, ids: Any) -> None:
        """flask-admin's bulk delete, given ids of the primary key's own type: its query compares
        the form's strings with the key (``integer = character varying`` on PostgreSQL)."""
        if len(self.model.__mapper__.primary_key) == 1:
            ids = tuple(self.typed_ids(ids))
        return super().action_delete(ids)

    def typed_ids(self, ids: Any) -> list[Any]:
        """The form's row ids converted to the primary key's type; ids that are not one dropped."""
        column = self.model.__mapper__.primary_key[0]
        typed = []
        for pk in ids:
            try:
                typed.append(column.type.python_type(pk))
            except (TypeError, ValueError, NotImplementedError):
                continue
        return typed

    def rows_for_action(self, ids: list[Any]) -> list[Any]:
        """The selected rows an action may touch: only those in the user's scope."""
        return [row for row in (self.get_one(pk) for pk in ids) if row is not None]

    def scope_related(self, query: Any, model: Any) -> Any:
        """Scope a query of another model through that model's console view (deny by default)."""
        if user_region_ids() is None:
            return query
        for view in getattr(self.admin, "_views", []):
            if isinstance(view, SecureModelView) and view.model is model:
                return view._scoped(query)
        return query.filter(sa.false())

    def _create_ajax_loader(self, name: str, options: dict[str, Any]) -> QueryAjaxModelLoader:
        attr = getattr(self.model, name)
        return ScopedAjaxModelLoader(self, name, db, attr.prop.mapper.class_, **options)

    def create_form(self, obj: Any = None):
        return self._scope_choices(super().create_form(obj))

    def edit_form(self, obj: Any = None):
        return self._scope_choices(super().edit_form(obj))

    def _scope_choices(self, form: Any) -> Any:
        """Relation fields list only rows in scope (a select of another region's sites leaks them
        and lets a manager save a row there)."""
        for field in form:
            factory = getattr(field, "query_factory", None)
            if factory is None or getattr(factory, "_opsadmin_scoped", False):
                continue
            field.query_factory = self._scoped_factory(factory)
        return form

    def _scoped_factory(self, factory: Any) -> Any:
        def scoped():
            query = factory()
            if not hasattr(query, "column_descriptions"):
                return query  # a view's own list of choices: it scoped them itself
            model = query.column_descriptions[0]["entity"]
            return self.scope_related(query, model)

        scoped._opsadmin_scoped = True
        return scoped

    def _on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        super()._on_model_change(form, model, is_created)
        self.check_in_scope(model)

    def check_in_scope(self, model: Any) -> None:
        """Refuse to save a row that would land outside the user's regions."""
        from wtforms.validators import ValidationError

        if user_region_ids() is None:
            return
        db.session.flush()
        mapper_pk = self.model.__mapper__.primary_key
        pk = sa.inspect(model).identity
        if not pk or self.get_query().filter(mapper_pk[0] == pk[0]).one_or_none() is None:
            raise ValidationError("You can only save rows in the regions assigned to you.")

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, DomainError):
            flash(exc.message, "error")
            return True
        return super().handle_view_exception(exc)

    # -- export --------------------------------------------------------------------------------
    @property
    def export_max_rows(self) -> int:
        return int(setting("OPSADMIN_EXPORT_MAX_ROWS"))

    def _export_csv(self, return_url: Any) -> Response:
        """Stream the rows while the session that loaded them is open, then audit the count
        actually written (a client that hangs up mid-way is recorded with what it got)."""
        from werkzeug.utils import secure_filename

        from opsadmin.audit.service import current_actor

        count, rows = self._export_data()
        columns = self._export_columns
        actor = current_actor()  # the request's actor is gone once the view has returned

        def generate():
            written = 0
            try:
                yield csv_line(title for _, title in columns)
                for row in rows:
                    yield csv_line(self.get_export_value(row, name) for name, _ in columns)
                    written += 1
            finally:
                self._audit_export(actor, written, count)

        name = secure_filename(self.get_export_name(export_type="csv"))
        return Response(
            stream_with_context(generate()),
            headers={"Content-Disposition": f"attachment;filename={name}"},
            mimetype="text/csv",
        )

    def _audit_export(self, actor: Any, written: int, matching: int | None) -> None:
        from opsadmin.audit import service as audit

        audit.record(
            db.session,
            "export",
            actor=actor,
            entity=self.model.__name__,
            detail=f"{written} rows exported from {self.name}"
            + ("" if matching is None else f" (of {matching} matching)"),
            changes={
                "rows": written,
                "matching": matching,
                "query": request.query_string.decode()[:500],
            },
        )
        db.session.commit()


# -- master data: writes through the feature's service rules ---------------------------------------
SITES = "Sites"  # the console menu of regions, locations, rooms, closures and registrations
TIMESTAMPS = ("created_at", "updated_at")


def console_actor() -> Actor:
    """The signed-in console user as the audit actor."""
    return Actor("user", current_user.id, current_user.email, request.remote_addr or "")


class MasterDataView(SecureModelView):
    """A scoped model view whose writes go through the feature's service rules.

    ``judges_impact``: the view's saves can put future bookings at risk (a closure, a room, a
    credential, a registration …). Such a change is judged before it is saved
    (:func:`opsadmin.impact.put_at_risk`, the bookings feature's own judge) and saved only once
    the user has seen the list of the bookings it puts at risk and confirmed it (the page frame
    shows the list and the "Save anyway" button; ``confirm_impact`` carries a digest of what they
    saw, so a list that changed in between is shown again). The write is allowed: a burst pipe is
    a fact. After the save, the page says how many touched bookings are at risk.
    """

    form_excluded_columns = TIMESTAMPS
    column_exclude_list = TIMESTAMPS
    judges_impact = False

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
        if self.judges_impact:
            self._confirm_impact()

    def _confirm_impact(self) -> None:
        """Judge the checked change (this flushes it; nothing is committed before the user
        confirms: a refusal rolls it back)."""
        items = impact.put_at_risk(db.session)
        if not items:
            return
        digest = impact.digest(items)
        if request.form.get(CONFIRM_IMPACT) == digest:
            return
        g.booking_impact = {"rows": items, "digest": digest}
        raise ValidationError(
            f"This change puts {len(items)} booking(s) at risk: check them below, then "
            "confirm to save anyway."
        )

    def after_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        super().after_model_change(form, model, is_created)
        if self.judges_impact:
            _flash_bookings_at_risk()

    def after_model_delete(self, model: Any) -> None:
        super().after_model_delete(model)
        if self.judges_impact:
            _flash_bookings_at_risk()

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


CONFIRM_IMPACT = "confirm_impact"


def _flash_bookings_at_risk() -> None:
    """How many of the bookings the committed change touched are at risk, linked to their list."""
    count = impact.bookings_at_risk(db.session)
    if count:
        flash(
            Markup(
                'Saved. {} booking(s) are at risk from this change: <a href="{}">{}</a>.'
            ).format(count, url_for("admin_at_risk.index"), "see Bookings at risk"),
            "warning",
        )


def board_link(code: str, day: dt.date | None = None) -> Markup:
    """A link to a site's day board (today at the site when no day is given)."""
    params = {"location": code} | ({"date": day.isoformat()} if day else {})
    return Markup('<a class="board-link" href="{}">Day board</a>').format(
        url_for("admin_board.index", **params)
    )


def _attach_errors(form: Any, errors: dict[str, Any]) -> None:
    """Show the service's per-field messages next to the fields the form has."""
    for name, messages in errors.items():
        field = form._fields.get(name) if hasattr(form, "_fields") else None
        if field is None:
            continue
        more = messages if isinstance(messages, list) else [str(messages)]
        field.errors = [*field.errors, *more]


__all__ = [
    "ALL_ROLES",
    "SITES",
    "MasterDataView",
    "board_link",
    "console_actor",
    "WRITE_ROLES",
    "ConsoleFilterConverter",
    "ConsoleSecureForm",
    "SecureIndexView",
    "SecureModelView",
    "SecureView",
    "console_datetime",
    "console_user_ok",
    "neutralise_cell",
    "user_region_ids",
]
