"""The status of a document that expires (a staff credential, a site registration), defined once:
in Python for one row and as a SQL ``CASE`` for lists, filters and reports.

``expired`` past its expiry date (a document is good through that date); else ``unverified``
while nobody verified it (credentials only); else ``expiring`` within the warning window; else
``valid``. A document superseded by a renewal (a newer one of the same kind for the same holder)
is no longer news: :func:`superseded_by_renewal`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

EXPIRED, UNVERIFIED, EXPIRING, VALID = "expired", "unverified", "expiring", "valid"


def _cases(expires_on: Any, on: dt.date, warning_days: int, unverified: Any) -> list[tuple]:
    """(condition, status) in order of precedence; the first that holds wins, else ``valid``."""
    cases = [(expires_on < on, EXPIRED)]
    if unverified is not None:
        cases.append((unverified, UNVERIFIED))
    cases.append((expires_on <= on + dt.timedelta(days=warning_days), EXPIRING))
    return cases


def status_of(
    expires_on: dt.date, on: dt.date, warning_days: int, unverified: bool | None = None
) -> str:
    """One document's status on ``on`` (``unverified`` None: the kind is never verified)."""
    return next((status for holds, status in _cases(expires_on, on, warning_days, unverified)
                 if holds), VALID)  # fmt: skip


def status_sql(
    expires_on: Any, on: dt.date, warning_days: int, unverified: Any = None
) -> sa.ColumnElement[str]:
    """The same status as a SQL expression over the columns given."""
    return sa.case(*_cases(expires_on, on, warning_days, unverified), else_=sa.literal(VALID))


def superseded_by_renewal(model: Any, *same: str) -> sa.ColumnElement[bool]:
    """True for a row of ``model`` that a newer row (a later ``expires_on``) with the same
    ``same`` columns supersedes."""
    newer = aliased(model)

    def alike(name: str) -> sa.ColumnElement[bool]:
        mine, theirs = getattr(model, name), getattr(newer, name)
        if getattr(model, name).expression.nullable:
            return theirs.is_not_distinct_from(mine)
        return theirs == mine

    return (
        sa.select(newer.id)
        .where(*(alike(name) for name in same), newer.expires_on > model.expires_on)
        .exists()
    )
