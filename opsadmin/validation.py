"""Validation and form plumbing shared by every feature's service and console forms.

Per-field errors (:class:`FieldErrors`), the common field checks, applying a dict of values to a
model, uniqueness, and the "has history, deactivate instead of deleting" rule — the last derived
from the foreign keys in the SQLAlchemy metadata, so no feature names another's tables.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.db import Base
from opsadmin.errors import DUPLICATE, Conflict, InvalidInput

# 409 code of a delete refused because rows hang on the row (deactivate it instead).
IN_USE = "in_use"
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY "
    # The District of Columbia and the inhabited territories issue licenses too.
    "DC PR GU VI AS MP".split()
)


class FieldErrors(dict):
    """Per-field error messages collected while validating; ``raise_if_any`` raises InvalidInput."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)

    def raise_if_any(self, what: str) -> None:
        if self:
            summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in self.items())
            raise InvalidInput(f"Invalid {what} — {summary}", errors=dict(self))


def check_email(address: str | None) -> str | None:
    """The normalised address, or None when ``address`` is not a syntactically valid e-mail."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address or "", check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def check_state(errors: FieldErrors, state: str | None, field: str = "state") -> None:
    if not state:
        errors.add(field, "A US state code is required (e.g. IN).")
    elif state not in US_STATES:
        errors.add(field, f"{state!r} is not a US state or territory code (e.g. IN, IL).")


def check_required(errors: FieldErrors, values: dict[str, object]) -> None:
    for field, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.add(field, "This field is required.")


def apply_values(obj: Base, values: dict[str, object], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"Unknown field(s): {', '.join(unknown)}.",
            errors={name: ["Unknown field."] for name in unknown},
        )
    for name, value in values.items():
        # Load the old value first: after a commit the attribute is expired, and the audit hook
        # would otherwise see no previous value to record.
        getattr(obj, name)
        setattr(obj, name, value)


def is_taken(session: Session, column: Any, value: object, obj: Base) -> bool:
    """True when another row than ``obj`` already has ``value`` in ``column``."""
    model = column.class_
    query = sa.select(model.id).where(column == value)
    if obj.id is not None:
        query = query.where(model.id != obj.id)
    with session.no_autoflush:
        return session.scalar(query.limit(1)) is not None


def duplicate(field: str, message: str) -> Conflict:
    return Conflict(message, code=DUPLICATE, errors={field: [message]})


# -- history: what hangs on a row and forbids deleting it -----------------------------------------
@cache
def history_columns(model: type[Base]) -> tuple[sa.Column, ...]:
    """The columns of other tables whose rows are the history of a ``model`` row.

    Every foreign key to the model's table counts, except the rows that go with it: those the
    database deletes along (``ON DELETE CASCADE``) and those the model owns (an ORM relationship
    that cascades deletes, such as a location's opening hours).
    """
    table = model.__table__
    owned = {
        relationship.target
        for relationship in sa.inspect(model).relationships
        if relationship.cascade.delete
    }
    found = [
        key.parent
        for other in Base.metadata.tables.values()
        if other is not table and other not in owned
        for key in other.foreign_keys
        if key.column.table is table and (key.ondelete or "").upper() != "CASCADE"
    ]
    return tuple(sorted(found, key=lambda column: (column.table.name, column.name)))


def history_of(session: Session, obj: Base) -> list[str]:
    """Human names of the rows that reference ``obj`` (its history), if any."""
    if obj.id is None:
        return []
    found = []
    for column in history_columns(type(obj)):
        count = session.scalar(
            sa.select(sa.func.count()).select_from(column.table).where(column == obj.id)
        )
        if count:
            found.append(f"{count} {column.table.name.replace('_', ' ')}(s)")
    return found


def refuse_delete_with_history(session: Session, obj: Base, what: str) -> None:
    """Conflict(code=in_use) when rows hang on ``obj``: deactivate it instead."""
    with session.no_autoflush:
        history = history_of(session, obj)
    if history:
        raise Conflict(
            f"This {what} has history ({', '.join(history)}) and cannot be deleted: "
            "deactivate it instead (untick Active).",
            code=IN_USE,
            errors={"active": ["Deactivate instead of deleting."]},
        )


def delete_without_history(session: Session, obj: Base, what: str) -> None:
    """Delete ``obj`` when it has no history; Conflict(in_use) otherwise (deactivate it)."""
    refuse_delete_with_history(session, obj, what)
    session.delete(obj)
    session.flush()
