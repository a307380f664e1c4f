"""The console's secured base views: every console view derives from one of these.

Access: anonymous users are sent to the login page; a signed-in user whose role is not allowed
gets 403. Roles (DESIGN §8): ``admin`` (everything), ``ops_manager`` (edits, scoped to their
regions), ``regional_lead`` (read-only, own regions).

Scoping: a view says how its rows belong to a region by overriding :meth:`scope_query` (most do it
by naming ``region_column`` and the ``scope_joins`` that reach it). It applies to the list, the
count, a typed ``?id=`` (``get_one``), edits and exports alike.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user

WRITE_ROLES = ("admin", "ops_manager")
ALL_ROLES = ("admin", "ops_manager", "regional_lead")


def console_user_ok() -> bool:
    """Signed in, active, and past every login step (the console-auth module may add steps)."""
    from opsadmin.auth.console import session_fully_authenticated

    return bool(current_user.is_authenticated and current_user.active) and (
        session_fully_authenticated()
    )


def user_region_ids() -> set[int] | None:
    """The regions the current user may see; None means all (administrators)."""
    if current_user.role == "admin":
        return None
    return {region.id for region in current_user.regions}


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


class SecureModelView(SecureMixin, ModelView):
    """A model's list/create/edit/details/export pages with roles and regional scoping."""

    # Writes need one of these roles; regional leads only read.
    write_roles: tuple[str, ...] = WRITE_ROLES
    # The column holding the row's region id, and the relationships to join to reach it.
    region_column: Any = None
    scope_joins: tuple[Any, ...] = ()
    can_view_details = True
    page_size = 25
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

    # -- scoping -------------------------------------------------------------------------------
    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        if self.region_column is None:
            # A view that says nothing about regions shows nothing to a scoped user.
            return query.filter(False)
        for join in self.scope_joins:
            query = query.join(join)
        return query.filter(self.region_column.in_(region_ids or {-1}))

    def _scoped(self, query: Any) -> Any:
        region_ids = user_region_ids()
        return query if region_ids is None else self.scope_query(query, region_ids)

    def get_query(self):
        return self._scoped(super().get_query())

    def get_count_query(self):
        return self._scoped(super().get_count_query())

    def get_one(self, id: Any):
        from flask_admin.contrib.sqla import tools

        pk = tools.iterdecode(id)
        mapper_pk = self.model.__mapper__.primary_key
        if len(mapper_pk) != 1:
            return super().get_one(id)
        return self.get_query().filter(mapper_pk[0] == pk).one_or_none()


def admin_views() -> list[BaseView]:
    """Users and API keys (administrators only)."""
    return []
