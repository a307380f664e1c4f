"""The console's model views read :mod:`opsadmin.labels` through these: enum columns in words
(statuses as badges) in lists and details, filters and form selects offering the words while
submitting the stored values, and headings with their acronyms in capitals."""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from jinja2 import pass_context

from opsadmin.labels import badge, choices, heading, label


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

    def _prettify_name(self, name: str) -> str:
        return heading(name)

    def scaffold_filters(self, name: Any) -> Any:
        found = super().scaffold_filters(name)
        values = enum_values(self.model, name) if isinstance(name, str) else None
        for flt in found or []:
            if values is not None and isinstance(getattr(flt, "options", None), list | tuple):
                flt.options = choices(values)
        return found
