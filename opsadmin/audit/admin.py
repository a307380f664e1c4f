"""Console view of the audit log: read-only, administrators only, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_admin import BaseView
from flask_admin.contrib.sqla.filters import BaseSQLAFilter

from opsadmin.audit.models import AuditEvent
from opsadmin.console import SecureModelView
from opsadmin.extensions import db


class _UTCDayFilter(BaseSQLAFilter):
    """Events from (or before) a UTC date; the column holds aware datetimes, so compare with one."""

    def __init__(self, name: str, *, before: bool) -> None:
        super().__init__(AuditEvent.at, name, data_type="datepicker")
        self.before = before

    def validate(self, value: str) -> bool:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True

    def clean(self, value: str) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)

    def apply(self, query: Any, value: dt.datetime, alias: Any = None) -> Any:
        if self.before:
            return query.filter(AuditEvent.at < value + dt.timedelta(days=1))
        return query.filter(AuditEvent.at >= value)

    def operation(self) -> str:
        return "on or before" if self.before else "on or after"


class AuditEventView(SecureModelView):
    allowed_roles = ("admin",)
    write_roles = ()
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("at", "actor_label", "action", "entity", "entity_id", "changes", "ip")
    column_searchable_list = ("actor_label", "entity", "entity_id", "detail")
    column_filters = (
        "entity",
        "action",
        "actor_label",
        "actor_type",
        _UTCDayFilter("Date (UTC)", before=False),
        _UTCDayFilter("Date (UTC)", before=True),
    )
    column_default_sort = ("at", True)
    # Millions of rows: no COUNT(*) per page (a full index scan), just previous/next.
    simple_list_pager = True
    column_labels = {"at": "At (UTC)", "actor_label": "Actor", "entity_id": "Id"}

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query  # administrators only (allowed_roles): there is nothing to scope


def admin_views() -> list[BaseView]:
    """The audit log."""
    return [
        AuditEventView(
            AuditEvent,
            db,
            name="Audit log",
            category="Administration",
            endpoint="admin_audit_log",
            url="audit_log",
        )
    ]
