"""Locations: opening intervals in local time (DST-correct), and master-data rules."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin import expiry
from opsadmin.errors import DomainError, InvalidInput, NotFound
from opsadmin.locations.models import (
    SITE_REGISTRATION_KINDS,
    Location,
    LocationClosure,
    OpeningHours,
    Region,
    SiteRegistration,
)
from opsadmin.validation import (
    FieldErrors,
    apply_values,
    check_email,
    check_required,
    check_state,
    delete_without_history,
    duplicate,
    is_taken,
)

Interval = tuple[dt.datetime, dt.datetime]


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; InvalidInput for an unknown one (``Mars/Olympus``)."""
    if name not in _known_zones():
        raise InvalidInput(
            f"Unknown time zone {name!r}: use an IANA name such as America/Indiana/Indianapolis.",
            errors={"timezone": [f"Unknown time zone {name!r}."]},
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - guarded above
        raise InvalidInput(str(error), errors={"timezone": [str(error)]}) from error


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def local_date(location: Location, instant: dt.datetime) -> dt.date:
    """The location's calendar date at ``instant``."""
    return instant.astimezone(zone(location.timezone)).date()


def local_datetime(location: Location, day: dt.date, time: dt.time) -> dt.datetime:
    """``time`` on ``day`` at the location, as an aware UTC datetime (DST-correct)."""
    return dt.datetime.combine(day, time, tzinfo=zone(location.timezone)).astimezone(dt.UTC)


def is_closed_on(location: Location, day: dt.date) -> bool:
    return any(c.starts_on <= day <= c.ends_on for c in location.closures)


def open_intervals(location: Location, day: dt.date) -> list[Interval]:
    """The location's opening intervals on its local ``day``, in UTC, minus holiday closures.

    Local wall-clock hours are converted with the day's own offset, so on the days clocks change
    08:00–18:00 local is still 08:00–18:00 local (and 9 or 11 hours long in UTC only if it spans
    the change, which opening hours never do).
    """
    if is_closed_on(location, day):
        return []
    weekday = day.weekday()
    intervals = [
        (local_datetime(location, day, h.opens), local_datetime(location, day, h.closes))
        for h in location.opening_hours
        if h.weekday == weekday
    ]
    return sorted(intervals)


def is_open_between(location: Location, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    """True when [starts_at, ends_at) lies inside one opening interval of the location."""
    first = local_date(location, starts_at)
    last = local_date(location, ends_at - dt.timedelta(microseconds=1))
    if first != last:
        return False
    return any(
        start <= starts_at and ends_at <= end for start, end in open_intervals(location, first)
    )


# -- master data: shared validation helpers ----------------------------------------------------
# Every create/update below validates first and raises before anything reaches the session, so a
# refused write leaves neither the row nor its audit event. The console calls the same
# ``validate_*`` functions on the object its form populated; the API calls ``create_*``/``update_*``.

_PHONE_CHARACTERS = frozenset("0123456789+-(). ")


# -- regions -----------------------------------------------------------------------------------
REGION_FIELDS = ("code", "name", "lead_emails")


def validate_region(session: Session, region: Region) -> None:
    """InvalidInput for missing fields or bad lead e-mails; Conflict(duplicate) for a taken code."""
    errors = FieldErrors()
    check_required(errors, {"code": region.code, "name": region.name})
    emails = region.lead_emails or []
    if not isinstance(emails, list | tuple):
        errors.add("lead_emails", "Give a list of e-mail addresses.")
    else:
        for address in emails:
            if check_email(address) is None:
                errors.add("lead_emails", f"{address!r} is not a valid e-mail address.")
    errors.raise_if_any("region")
    if is_taken(session, Region.code, region.code, region):
        raise duplicate("code", f"A region with code {region.code!r} already exists.")


def create_region(
    session: Session, *, code: str, name: str, lead_emails: list[str] | None = None
) -> Region:
    region = Region(code=code, name=name, lead_emails=list(lead_emails or []))
    validate_region(session, region)
    session.add(region)
    session.flush()
    return region


def update_region(session: Session, region: Region, **values: object) -> Region:
    apply_values(region, values, REGION_FIELDS)
    validate_region(session, region)
    session.flush()
    return region


def get_region(session: Session, code: str) -> Region:
    region = session.scalar(sa.select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(f"No region {code!r}.")
    return region


# -- locations ---------------------------------------------------------------------------------
LOCATION_FIELDS = (
    "code",
    "name",
    "region",
    "address_line1",
    "city",
    "state",
    "postal_code",
    "timezone",
    "phone",
    "active",
    "opening_hours",
)


def validate_location(session: Session, location: Location) -> None:
    """Every rule of a location and its opening hours; Conflict(duplicate) for a taken code."""
    errors = FieldErrors()
    check_required(errors, {"code": location.code, "name": location.name})
    if location.region is None and location.region_id is None:
        errors.add("region", "Choose the location's region.")
    check_state(errors, location.state)
    _check_timezone(errors, location.timezone)
    _check_phone(errors, location.phone)
    check_opening_hours(errors, location.opening_hours)
    errors.raise_if_any("location")
    if is_taken(session, Location.code, location.code, location):
        raise duplicate("code", f"A location with code {location.code!r} already exists.")


def _check_timezone(errors: FieldErrors, name: str | None) -> None:
    if not name:
        errors.add("timezone", "An IANA time zone is required (e.g. America/Indiana/Indianapolis).")
        return
    try:
        zone(name)
    except InvalidInput:
        errors.add(
            "timezone",
            f"Unknown time zone {name!r}: use an IANA name such as America/Indiana/Indianapolis.",
        )


def _check_phone(errors: FieldErrors, phone: str | None) -> None:
    if not phone:
        return
    digits = sum(ch.isdigit() for ch in phone)
    if set(phone) - _PHONE_CHARACTERS or not 10 <= digits <= 15:
        errors.add(
            "phone", f"{phone!r} is not a phone number (10–15 digits, e.g. +1 765 555 0100)."
        )


def check_opening_hours(errors: FieldErrors, hours: list[OpeningHours]) -> None:
    """Weekday 0–6 (Monday = 0), closes after opens, no two intervals of a day overlapping."""
    by_day: dict[int, list[OpeningHours]] = {}
    for interval in hours:
        if interval.weekday is None or not 0 <= interval.weekday <= 6:
            errors.add("opening_hours", f"Weekday {interval.weekday!r} is not 0–6 (Monday = 0).")
        elif interval.opens is None or interval.closes is None:
            errors.add("opening_hours", "Each interval needs an opening and a closing time.")
        elif interval.closes <= interval.opens:
            errors.add("opening_hours", f"{interval}: closes must be after opens.")
        else:
            by_day.setdefault(interval.weekday, []).append(interval)
    for intervals in by_day.values():
        intervals.sort(key=lambda h: h.opens)
        for earlier, later in zip(intervals, intervals[1:], strict=False):
            if later.opens < earlier.closes:
                errors.add("opening_hours", f"{earlier} overlaps {later}.")


def opening_hours_from_values(hours: list[dict]) -> list[OpeningHours]:
    """OpeningHours from ``[{"weekday": 0, "opens": "08:00", "closes": "18:00"}, ...]``."""
    errors = FieldErrors()
    built = []
    for item in hours:
        try:
            built.append(
                OpeningHours(
                    weekday=item["weekday"],
                    opens=_as_time(item["opens"]),
                    closes=_as_time(item["closes"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            errors.add("opening_hours", f"{item!r} is not {{weekday, opens HH:MM, closes HH:MM}}.")
    errors.raise_if_any("opening hours")
    return built


def _as_time(value: object) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))


def _resolve_region(session: Session, region: Region | str | None) -> Region | None:
    if region is None or isinstance(region, Region):
        return region
    found = session.scalar(sa.select(Region).where(Region.code == region))
    if found is None:
        raise InvalidInput(f"No region {region!r}.", errors={"region": [f"No region {region!r}."]})
    return found


def create_location(
    session: Session,
    *,
    code: str,
    name: str,
    region: Region | str,
    timezone: str,
    state: str,
    opening_hours: list[dict] | None = None,
    **values: object,
) -> Location:
    """Create a location (``region`` a Region or its code; hours as plain dicts).

    Other keyword values: address_line1, city, postal_code, phone, active.
    """
    location = Location(address_line1="", city="", postal_code="", phone="", active=True)
    apply_values(
        location,
        {"code": code, "name": name, "timezone": timezone, "state": state, **values},
        LOCATION_FIELDS,
    )
    location.opening_hours = opening_hours_from_values(opening_hours or [])
    location.region = _resolve_region(session, region)
    try:
        validate_location(session, location)
    except DomainError:
        # Undo the backref append, or the refused location would ride along Region.locations.
        location.region = None
        raise
    session.add(location)
    session.flush()
    return location


def update_location(session: Session, location: Location, **values: object) -> Location:
    """Change the given fields; ``opening_hours`` (plain dicts) replaces all of the week's hours."""
    values = dict(values)
    with session.no_autoflush:
        if "region" in values:
            values["region"] = _resolve_region(session, values["region"])
        if "opening_hours" in values:
            values["opening_hours"] = opening_hours_from_values(values["opening_hours"] or [])
        apply_values(location, values, LOCATION_FIELDS)
        validate_location(session, location)
    session.flush()
    return location


def get_location(session: Session, code: str) -> Location:
    location = session.scalar(sa.select(Location).where(Location.code == code))
    if location is None:
        raise NotFound(f"No location {code!r}.")
    return location


def delete_location(session: Session, location: Location) -> None:
    """Delete a location that has no history; Conflict(in_use) otherwise (deactivate it)."""
    delete_without_history(session, location, "location")


# -- location closures -------------------------------------------------------------------------
def validate_location_closure(session: Session, closure: LocationClosure) -> None:
    """Ordered dates (inclusive range) not overlapping another closure of the same location."""
    errors = FieldErrors()
    check_required(errors, {"starts_on": closure.starts_on, "ends_on": closure.ends_on})
    if closure.location is None and closure.location_id is None:
        errors.add("location", "Choose the location.")
    if closure.starts_on and closure.ends_on and closure.ends_on < closure.starts_on:
        errors.add("ends_on", "The closure must end on or after its first day.")
    errors.raise_if_any("closure")
    location_id = closure.location.id if closure.location is not None else closure.location_id
    query = sa.select(LocationClosure).where(
        LocationClosure.location_id == location_id,
        LocationClosure.starts_on <= closure.ends_on,
        LocationClosure.ends_on >= closure.starts_on,
    )
    if closure.id is not None:
        query = query.where(LocationClosure.id != closure.id)
    with session.no_autoflush:
        clash = session.scalars(query.limit(1)).first()
    if clash is not None:
        message = f"Overlaps the closure {clash} of this location."
        raise InvalidInput(message, errors={"starts_on": [message]})


def add_location_closure(
    session: Session,
    location: Location,
    *,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str = "",
) -> LocationClosure:
    closure = LocationClosure(starts_on=starts_on, ends_on=ends_on, reason=reason or "")
    closure.location_id = location.id
    validate_location_closure(session, closure)
    location.closures.append(closure)
    session.flush()
    return closure


# -- site registrations ------------------------------------------------------------------------
def validate_site_registration(session: Session, registration: SiteRegistration) -> None:
    """Kind, number, a valid state, an expiry (after the issue date when given); unique number."""
    errors = FieldErrors()
    if registration.kind not in SITE_REGISTRATION_KINDS:
        errors.add("kind", f"Kind must be one of {', '.join(SITE_REGISTRATION_KINDS)}.")
    check_required(errors, {"number": registration.number, "expires_on": registration.expires_on})
    check_state(errors, registration.state)
    if registration.location is None and registration.location_id is None:
        errors.add("location", "Choose the location.")
    issued, expires = registration.issued_on, registration.expires_on
    if issued and expires and expires <= issued:
        errors.add("expires_on", "The expiry date must be after the issue date.")
    errors.raise_if_any("site registration")
    query = sa.select(SiteRegistration.id).where(
        SiteRegistration.kind == registration.kind,
        SiteRegistration.number == registration.number,
        SiteRegistration.state == registration.state,
    )
    if registration.id is not None:
        query = query.where(SiteRegistration.id != registration.id)
    with session.no_autoflush:
        if session.scalar(query.limit(1)) is not None:
            raise duplicate("number", f"Registration {registration.number!r} is already recorded.")


def add_site_registration(
    session: Session,
    location: Location,
    *,
    kind: str,
    number: str,
    state: str,
    expires_on: dt.date,
    issued_on: dt.date | None = None,
) -> SiteRegistration:
    registration = SiteRegistration(
        kind=kind, number=number, state=state, expires_on=expires_on, issued_on=issued_on
    )
    registration.location_id = location.id
    validate_site_registration(session, registration)
    location.registrations.append(registration)
    session.flush()
    return registration


# -- site registration status ------------------------------------------------------------------
REGISTRATION_STATUSES = ("valid", "expiring", "expired")


def registration_status(expires_on: dt.date, today: dt.date, warning_days: int) -> str:
    """``expired`` before today, ``expiring`` within the credential warning window, else ``valid``
    (:mod:`opsadmin.expiry`; a registration is never "unverified")."""
    return expiry.status_of(expires_on, today, warning_days)


def registration_status_sql(today: dt.date, warning_days: int) -> sa.ColumnElement[str]:
    """:func:`registration_status` as a SQL expression over the site registration table."""
    return expiry.status_sql(SiteRegistration.expires_on, today, warning_days)


def registration_renewed() -> sa.ColumnElement[bool]:
    """True for a site registration superseded by a newer one of the same kind and state at the
    same site: its expiry is no longer news (the console, the dashboard and the digest skip it)."""
    return expiry.superseded_by_renewal(SiteRegistration, "location_id", "kind", "state")


def registration_due(
    as_of: dt.date, warning_days: int, status: str | None = None
) -> sa.ColumnElement[bool]:
    """SQL on :class:`SiteRegistration`: not renewed, and ``expired`` or ``expiring`` on
    ``as_of`` (either when ``status`` is None). The digest, the dashboard and the registrations
    list's status filter count with this one condition."""
    statuses = ("expiring", "expired") if status is None else (status,)
    return sa.and_(
        registration_status_sql(as_of, warning_days).in_(statuses), ~registration_renewed()
    )
