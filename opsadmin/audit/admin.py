"""Console view of the audit log: read-only, administrators only, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_admin import BaseView
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from markupsafe import Markup

from opsadmin.audit.models import AuditEvent
from opsadmin.console import SecureModelView
from opsadmin.extensions import db
from opsadmin.labels import LABELS, heading, label


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


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{heading(str(k))} {_value(v)}" for k, v in value.items())
    text = str(value)
    return LABELS.get(text, text)


def change_items(action: str, changes: Any) -> list[tuple[str, str, str | None]]:
    """(field, old or value, new) per change, as the audit hook and ``record`` write them: an
    update's ``[old, new]`` pairs, a link table's added/removed, a create's or an explicit
    event's plain values (new is None)."""
    if not isinstance(changes, dict):
        return [("", _value(changes), None)] if changes else []
    items = []
    for field, change in changes.items():
        name = heading(str(field))
        if action == "update" and isinstance(change, list) and len(change) == 2:
            items.append((name, _value(change[0]), _value(change[1])))
        elif isinstance(change, dict) and set(change) <= {"added", "removed"}:
            added, removed = change.get("added") or [], change.get("removed") or []
            items.append((name, _value(removed), _value(added)))
        else:
            items.append((name, _value(change), None))
    return items


def change_list(view: Any, context: Any, model: AuditEvent, name: str) -> Markup:
    """The event's changes as a readable list, ``Field: old → new``, rather than raw JSON."""
    items = change_items(model.action, model.changes)
    if not items:
        return Markup("")
    rows = []
    for field, old, new in items:
        if new is None:
            rows.append(Markup("<li><strong>{}</strong>: {}</li>").format(field, old))
        else:
            rows.append(
                Markup("<li><strong>{}</strong>: <del>{}</del> → <ins>{}</ins></li>").format(
                    field, old, new
                )
            )
    return Markup('<ul class="list-unstyled mb-0 small audit-changes">{}</ul>').format(
        Markup("").join(rows)
    )


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
    column_labels = {"at": "At (UTC)", "actor_label": "Actor", "entity_id": "ID", "ip": "IP"}
    column_formatters = {"changes": change_list, "action": lambda v, c, m, n: label(m.action)}
    column_formatters_detail = column_formatters
    column_formatters_export: dict[str, Any] = {}  # exports keep the stored JSON

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
