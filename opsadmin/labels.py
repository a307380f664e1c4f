"""Words for the stored enum values (roles, kinds, indications, statuses, scopes …) and the
status badges: the one table every console page, filter and form reads.

A value missing from the table is shown with its underscores as spaces and a capital, so a new
enum value reads acceptably before someone words it here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from jinja2 import pass_context
from markupsafe import Markup

LABELS: dict[str, str] = {
    # console users and API keys
    "admin": "Administrator",
    "ops_manager": "Operations manager",
    "regional_lead": "Regional lead",
    "read": "Read",
    "write": "Write",
    # staff roles
    "physician": "Physician",
    "crna": "CRNA (nurse anaesthetist)",
    "nurse_practitioner": "Nurse practitioner",
    "registered_nurse": "Registered nurse",
    "medical_assistant": "Medical assistant",
    "coordinator": "Coordinator",
    # credential and registration kinds
    "state_license": "State licence",
    "dea_registration": "DEA registration",
    "state_csr": "State controlled-substance registration",
    "acls": "ACLS",
    "bls": "BLS",
    "board_certification": "Board certification",
    # appointment and room kinds
    "consult": "Consult",
    "infusion": "Infusion",
    "follow_up": "Follow-up",
    "recovery": "Recovery",
    # indications and contraindications
    "migraine": "Migraine",
    "depression": "Depression",
    "chronic_pain": "Chronic pain",
    "other": "Other",
    # statuses
    "booked": "Booked",
    "checked_in": "Checked in",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
    "received": "Received",
    "consult_scheduled": "Consult scheduled",
    "consulted": "Consulted",
    "approved": "Approved",
    "declined": "Declined",
    "treatment_scheduled": "Treatment scheduled",
    "in_treatment": "In treatment",
    "withdrawn": "Withdrawn",
    "started": "Started treatment",
    "pending": "Pending",
    "queued": "Queued",
    "running": "Running",
    "built": "Built",
    "sent": "Sent",
    "sending": "Sending",
    "failed": "Failed",
    "valid": "Valid",
    "expiring": "Expiring",
    "expired": "Expired",
    "unverified": "Unverified",
    # report kinds
    "utilisation": "Utilisation",
    "followup": "Follow-up digest",
    # audit
    "user": "User",
    "api_key": "API key",
    "system": "System",
    "anonymous": "Anonymous",
}

# Bootstrap badge colour per status: green done or fine, amber needs attention soon, red wrong.
BADGES: dict[str, str] = {
    "valid": "success",
    "completed": "success",
    "sent": "success",
    "approved": "success",
    "expiring": "warning",
    "unverified": "secondary",
    "expired": "danger",
    "failed": "danger",
    "declined": "danger",
    "no_show": "danger",
    "cancelled": "secondary",
    "withdrawn": "secondary",
    "booked": "primary",
    "checked_in": "info",
    "in_treatment": "info",
    "treatment_scheduled": "info",
    "consult_scheduled": "info",
    "running": "info",
    "queued": "info",
    "built": "info",
    "sending": "info",
    "pending": "light",
    "received": "light",
    "consulted": "primary",
}


def label(value: Any) -> str:
    """The words for a stored value (``registered_nurse`` → ``Registered nurse``)."""
    if value is None:
        return ""
    text = str(value)
    if text in LABELS:
        return LABELS[text]
    words = text.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def labels(values: Iterable[Any]) -> str:
    """A list of stored values (API key scopes, contraindications) as one line of words."""
    return ", ".join(label(value) for value in values)


def choices(values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, words) pairs for a select or a filter."""
    return [(value, label(value)) for value in values]


def badge(status: Any) -> Markup:
    """A status as a coloured badge; the value itself stays in ``data-status`` for scripts and tests."""
    if status is None:
        return Markup("")
    colour = BADGES.get(str(status), "secondary")
    return Markup('<span class="badge badge-{} status-badge" data-status="{}">{}</span>').format(
        colour, status, label(status)
    )


# -- the console's model views use the table through these ----------------------------------------
def enum_values(model: Any, name: str) -> tuple[str, ...] | None:
    """The stored values of ``model``'s enum column ``name`` (None: not an enum column)."""
    import sqlalchemy as sa

    column = sa.inspect(model).columns.get(name) if "." not in name else None
    if column is not None and isinstance(column.type, sa.Enum):
        return tuple(column.type.enums)
    return None


class LabelledModelConverter(AdminModelConverter):
    """Form selects of enum columns offer the words, and keep submitting the stored value."""

    @converts("sqlalchemy.sql.sqltypes.Enum")
    def convert_enum(self, column: Any, field_args: dict[str, Any], **extra: Any) -> Any:
        field = super().convert_enum(column, field_args, **extra)
        field.kwargs["choices"] = choices(column.type.enums)
        return field


class LabelledViewMixin:
    """Enum columns in words in lists and details (``status`` as a badge), and in filters' options.

    A view's own ``column_formatters`` still win. Exports keep the stored values (they are data).
    """

    badge_columns: tuple[str, ...] = ("status",)
    model_form_converter = LabelledModelConverter

    def _enum_display(self, model: Any, name: str) -> Any:
        value = getattr(model, name, None)
        return badge(value) if name in self.badge_columns else label(value)

    def _labelled(self, name: str, formatters: dict[str, Any] | None) -> bool:
        return name not in (formatters or {}) and enum_values(self.model, name) is not None

    @pass_context
    def get_list_value(self, context: Any, model: Any, name: str) -> Any:
        if self._labelled(name, self.column_formatters):
            return self._enum_display(model, name)
        return super().get_list_value(context, model, name)

    @pass_context
    def get_detail_value(self, context: Any, model: Any, name: str) -> Any:
        if self._labelled(name, self.column_formatters_detail):
            return self._enum_display(model, name)
        return super().get_detail_value(context, model, name)

    def scaffold_filters(self, name: Any) -> Any:
        found = super().scaffold_filters(name)
        values = enum_values(self.model, name) if isinstance(name, str) else None
        for flt in found or []:
            if values is not None and isinstance(getattr(flt, "options", None), list | tuple):
                flt.options = choices(values)
        return found
