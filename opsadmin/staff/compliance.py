"""Staff compliance: each active clinician at each location they work at, judged by the
eligibility rules for infusions and consults today and 30 and 60 days ahead.

The matrix is read in a fixed number of statements whatever the number of staff (the locations,
the clinicians with their assignments, the rules per kind, the credentials), and judged by
:func:`opsadmin.staff.eligibility.eligibility_grid`, the same rules a booking is checked against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from opsadmin.locations.models import Location
from opsadmin.staff.eligibility import Eligibility, eligibility_grid
from opsadmin.staff.models import CLINICIAN_ROLES, StaffMember, staff_location

COMPLIANCE_KINDS = ("infusion", "consult")
HORIZONS = (0, 30, 60)


@dataclass
class KindCompliance:
    """One appointment kind: eligible on each horizon's day, and what is missing on each."""

    kind: str
    eligible: dict[int, bool]
    missing: dict[int, list[dict[str, Any]]]

    @property
    def applies(self) -> bool:
        """False when the role may never take this kind (no credential rule): not a gap."""
        return not any(gap.get("reason") == "no_rule" for gap in self.missing[HORIZONS[0]])

    @property
    def ok_now(self) -> bool:
        return self.eligible[HORIZONS[0]]

    @property
    def gaps(self) -> list[tuple[dict[str, Any], int]]:
        """Every missing item over the horizons, each with the first horizon (days) it shows."""
        found: list[tuple[dict[str, Any], int]] = []
        for days in HORIZONS:
            found += [(gap, days) for gap in self.missing[days] if gap not in [g for g, _ in found]]
        return found

    @property
    def lapses_in(self) -> int | None:
        """The first horizon (days) at which an eligible clinician stops being so, if any."""
        return next((days for days in HORIZONS if not self.eligible[days]), None)


@dataclass
class ComplianceRow:
    staff: StaffMember
    location: Location
    kinds: list[KindCompliance] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Not eligible today for a kind the role takes (an unlicensed site, a lapsed credential)."""
        return any(k.applies and not k.ok_now for k in self.kinds)

    @property
    def lapsing(self) -> bool:
        return not self.flagged and any(k.applies and k.lapses_in is not None for k in self.kinds)


def compliance_matrix(
    session: Session,
    today: dt.date,
    locations: Iterable[Location],
    *,
    region: str | None = None,
    location: str | None = None,
) -> list[ComplianceRow]:
    """Rows by location code then clinician name, over ``locations`` (the ones the user may see,
    see :func:`visible_locations`) narrowed to the ``region``/``location`` codes when given."""
    sites = [
        site
        for site in locations
        if site.active
        and (not region or site.region.code == region)
        and (not location or site.code == location)
    ]
    pairs = _assignments(session, sites)
    days = [today + dt.timedelta(days=n) for n in HORIZONS]
    grid = eligibility_grid(session, pairs, COMPLIANCE_KINDS, days)
    return [
        ComplianceRow(
            staff, site, [_kind(grid, staff, site, kind, days) for kind in COMPLIANCE_KINDS]
        )
        for staff, site in pairs
    ]


def visible_locations(session: Session, region_ids: set[int] | None) -> list[Location]:
    """The locations in the regions ``region_ids`` (None: all), with their region, by code."""
    query = sa.select(Location).options(joinedload(Location.region)).order_by(Location.code)
    if region_ids is not None:
        query = query.where(Location.region_id.in_(region_ids or {-1}))
    return list(session.scalars(query))


def _kind(
    grid: dict[tuple[int, int, str, dt.date], Eligibility],
    staff: StaffMember,
    location: Location,
    kind: str,
    days: list[dt.date],
) -> KindCompliance:
    answers = {
        n: grid[(staff.id, location.id, kind, day)] for n, day in zip(HORIZONS, days, strict=True)
    }
    return KindCompliance(
        kind,
        eligible={n: answer.eligible for n, answer in answers.items()},
        missing={n: answer.missing for n, answer in answers.items()},
    )


def _assignments(session: Session, locations: list[Location]) -> list[tuple[StaffMember, Location]]:
    by_id = {location.id: location for location in locations}
    if not by_id:
        return []
    rows = session.execute(
        sa.select(StaffMember, staff_location.c.location_id)
        .join(staff_location, staff_location.c.staff_id == StaffMember.id)
        .where(
            staff_location.c.location_id.in_(by_id),
            StaffMember.active,
            StaffMember.role.in_(CLINICIAN_ROLES),
        )
        .order_by(StaffMember.name, StaffMember.id)
    )
    pairs = [(member, by_id[location_id]) for member, location_id in rows]
    return sorted(pairs, key=lambda pair: (pair[1].code, pair[0].name, pair[0].id))


def describe_gap(gap: dict[str, Any]) -> str:
    """A missing item in words: ``state license (IL): missing``."""
    what = gap["kind"].replace("_", " ")
    if gap.get("state"):
        what += f" ({gap['state']})"
    reason = {
        "not_assigned": "not assigned",
        "no_rule": "role does not take this kind",
        "inactive": "inactive",
    }.get(gap["reason"], gap["reason"])
    return f"{what}: {reason}"
