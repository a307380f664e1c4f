"""Load a large, plausible clinic chain into a dedicated PostgreSQL database, fast and deterministically.

    python -m benchmarks.generate [--database-url URL] [--scale 1.0]

Scale 1 is the issue's chain: 200 locations in 10 regions, 2,000 rooms, 3,000 staff with their
credentials, 100,000 referrals and 2,000,000 appointments over the two years ending 2027-01-03.
A scale above 1 adds *history* (scale 5: 10 M appointments over ten years) at the same daily
density, so the last two years — and any week in them — hold exactly the same rows at every scale
above 1: that is what lets the runner compare a week's report at 2 M and at 10 M total rows.
A scale below 1 thins the two years (``--scale 0.01``: a quick smoke).

Plausibility: every appointment lies inside its location's opening hours (Mon–Sat 08:00–18:00
local, DST-correct: PostgreSQL converts local wall time with ``AT TIME ZONE``), never on a holiday
closure, in a room of the right kind, and no room ever holds more overlapping appointments than it
has chairs (each location-day takes distinct (room, chair, slot) positions). Determinism comes from
integer hashing in SQL, not from a random generator, so two loads at the same scale are identical.

The small tables are written with COPY from Python; the big ones (appointments, referrals,
referral events, audit events) are generated inside PostgreSQL with ``INSERT … SELECT`` over
``generate_series``, with their secondary indexes dropped during the load and rebuilt after,
then ``VACUUM (ANALYZE)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.orm import Session

DEFAULT_URL = "postgresql://postgres@127.0.0.1/opsadmin_bench"
END = dt.date(2027, 1, 4)  # exclusive; a Monday, so the data ends with a whole ISO week
AS_OF = dt.date(2026, 11, 23)  # appointments before this are in the past (completed, no-show …)
BASE_APPOINTMENTS = 2_000_000
BASE_REFERRALS = 100_000
BASE_AUDIT_EVENTS = 500_000
BENCH_ADMIN_EMAIL = "bench-admin@bench.example.org"
BENCH_PASSWORD = "bench-password-not-secret"  # a throwaway database on 127.0.0.1 only
BENCH_TOTP_SECRET = (
    "OPSADMINBENCHTOTPSECRETAAAAAAAAA"  # administrators always need TOTP: pyotp answers
)

REGIONS = [  # (code, name, state, time zone)
    ("IN", "Indiana", "IN", "America/Indiana/Indianapolis"),
    ("IL", "Illinois", "IL", "America/Chicago"),
    ("OH", "Ohio", "OH", "America/New_York"),
    ("TX", "Texas", "TX", "America/Chicago"),
    ("CO", "Colorado", "CO", "America/Denver"),
    ("AZ", "Arizona", "AZ", "America/Phoenix"),
    ("CA", "California", "CA", "America/Los_Angeles"),
    ("NY", "New York", "NY", "America/New_York"),
    ("FL", "Florida", "FL", "America/New_York"),
    ("WA", "Washington", "WA", "America/Los_Angeles"),
]
LOCATIONS_PER_REGION = 20
LOCATIONS = len(REGIONS) * LOCATIONS_PER_REGION
# Ten rooms a site: six infusion rooms (chairs below), three one-chair consult rooms, one recovery.
INFUSION_CAPACITIES = (2, 3, 4, 3, 2, 4)
CONSULT_ROOMS = 3
ROOMS_PER_LOCATION = len(INFUSION_CAPACITIES) + CONSULT_ROOMS + 1
# Fifteen staff a site: the first seven are clinicians (they take the appointments).
STAFF_ROLES = (
    ["physician"] * 3
    + ["crna"] * 2
    + ["nurse_practitioner"] * 2
    + ["registered_nurse"] * 4
    + ["medical_assistant"] * 2
    + ["coordinator"] * 2
)
STAFF_PER_LOCATION = len(STAFF_ROLES)
CLINICIANS_PER_LOCATION = 7
OPENS, CLOSES = dt.time(8, 0), dt.time(18, 0)
BIG_TABLES = ("appointment", "audit_event", "referral", "referral_event")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="the database to (re)create")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 2 M appointments; 5 = 10 M")
    return parser.parse_args(argv)


@contextmanager
def step(label: str) -> Iterator[None]:
    started = time.perf_counter()
    print(f"  {label} …", end="", flush=True)
    yield
    print(f" {time.perf_counter() - started:.1f} s", flush=True)


# -- calendar ------------------------------------------------------------------------------------
def history_days(scale: float) -> int:
    return round(730 * max(scale, 1.0))


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """New Year, Independence Day, Thanksgiving and Christmas in [start, end): every site closes."""
    found = []
    for year in range(start.year, end.year + 1):
        november_first = dt.date(year, 11, 1)
        thanksgiving = november_first + dt.timedelta(days=(3 - november_first.weekday()) % 7 + 21)
        for day in (dt.date(year, 1, 1), dt.date(year, 7, 4), thanksgiving, dt.date(year, 12, 25)):
            if start <= day < end:
                found.append(day)
    return found


def open_days(start: dt.date, end: dt.date) -> int:
    closed = set(holidays(start, end))
    days = (start + dt.timedelta(days=n) for n in range((end - start).days))
    return sum(1 for day in days if day.weekday() < 6 and day not in closed)


def appointments_per_location_day(scale: float) -> float:
    """Density fixed by the two-year baseline, so a scale above 1 only lengthens the history."""
    two_years = END - dt.timedelta(days=730)
    return BASE_APPOINTMENTS * min(scale, 1.0) / (LOCATIONS * open_days(two_years, END))


# -- database ------------------------------------------------------------------------------------
def recreate_database(url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info["dbname"]
    maintenance = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def create_schema(url: str) -> None:
    """The schema of the models (the same tables the migration creates), plus the default rules."""
    import opsadmin.models  # noqa: F401  (every table registered)
    from opsadmin.db import Base
    from opsadmin.staff.service import ensure_default_rules

    engine = sa.create_engine(sqlalchemy_url(url))
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        ensure_default_rules(session)
        session.commit()
    engine.dispose()


def copy_rows(conn: psycopg.Connection, table: str, columns: list[str], rows) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


# -- master data ---------------------------------------------------------------------------------
def region_rows(now: dt.datetime):
    for index, (code, name, _state, _tz) in enumerate(REGIONS, start=1):
        leads = json.dumps([f"lead-{code.lower()}@bench.example.org"])
        yield (index, code, f"{name} region", leads, now, now)


def location_rows(now: dt.datetime):
    for region_index, (code, name, state, tz) in enumerate(REGIONS, start=1):
        for n in range(1, LOCATIONS_PER_REGION + 1):
            location_id = (region_index - 1) * LOCATIONS_PER_REGION + n
            yield (
                location_id, f"{code}{n:03d}", f"{name} clinic {n}", region_index,
                f"{n} Main St", f"{name} City {n}", state, f"{10000 + location_id}", tz,
                f"+1 555 010 {location_id:04d}", True, now, now,
            )  # fmt: skip


def opening_hours_rows():
    for location_id in range(1, LOCATIONS + 1):
        for weekday in range(6):
            yield (location_id, weekday, OPENS, CLOSES)


def closure_rows(start: dt.date):
    for day in holidays(start, END):
        for location_id in range(1, LOCATIONS + 1):
            yield (location_id, day, day, "holiday")


def registration_rows(now: dt.datetime):
    for location_id in range(1, LOCATIONS + 1):
        state = REGIONS[(location_id - 1) // LOCATIONS_PER_REGION][2]
        expires = dt.date(2028, 6, 30)
        yield ("dea_registration", f"FB{location_id:07d}", state, location_id, expires, now, now)
        if location_id % 2:
            # State CSRs expire at spread dates so the follow-up digest has some to flag.
            csr_expires = AS_OF + dt.timedelta(days=(location_id * 37) % 400 - 30)
            yield ("state_csr", f"CSR{location_id:06d}", state, location_id, csr_expires, now, now)


def room_rows(now: dt.datetime):
    kinds = ["infusion"] * len(INFUSION_CAPACITIES) + ["consult"] * CONSULT_ROOMS + ["recovery"]
    capacities = list(INFUSION_CAPACITIES) + [1] * CONSULT_ROOMS + [4]
    for location_id in range(1, LOCATIONS + 1):
        for ordinal, (kind, capacity) in enumerate(zip(kinds, capacities, strict=True)):
            room_id = (location_id - 1) * ROOMS_PER_LOCATION + ordinal + 1
            yield (
                room_id,
                location_id,
                f"{kind.title()} {ordinal + 1}",
                kind,
                capacity,
                True,
                now,
                now,
            )


def staff_rows(now: dt.datetime):
    for location_id in range(1, LOCATIONS + 1):
        for index, role in enumerate(STAFF_ROLES):
            staff_id = (location_id - 1) * STAFF_PER_LOCATION + index + 1
            name = f"{role.replace('_', ' ').title()} {staff_id}"
            yield (staff_id, name, f"staff{staff_id}@bench.example.org", role, True, now, now)


def staff_location_rows():
    for location_id in range(1, LOCATIONS + 1):
        region_first = (location_id - 1) // LOCATIONS_PER_REGION * LOCATIONS_PER_REGION + 1
        neighbour = region_first + (location_id - region_first + 1) % LOCATIONS_PER_REGION
        for index in range(STAFF_PER_LOCATION):
            staff_id = (location_id - 1) * STAFF_PER_LOCATION + index + 1
            yield (staff_id, location_id)
            if index < 3:  # physicians also cover a neighbouring site of the same state
                yield (staff_id, neighbour)


def credential_kinds(role: str) -> list[str]:
    if role in ("physician", "crna", "nurse_practitioner"):
        return ["state_license", "dea_registration", "acls", "bls"]
    if role == "registered_nurse":
        return ["state_license", "bls"]
    return ["bls"]


def credential_expiry(staff_id: int, kind: str) -> dt.date:
    # A few lapse or are about to, as in any real roster; most are good for years.
    if staff_id % 97 == 0 and kind == "acls":
        return AS_OF - dt.timedelta(days=20)
    if staff_id % 41 == 0 and kind == "state_license":
        return AS_OF + dt.timedelta(days=30)
    return dt.date(2028, 1, 1) + dt.timedelta(days=staff_id % 700)


def credential_rows(now: dt.datetime):
    for staff_id in range(1, LOCATIONS * STAFF_PER_LOCATION + 1):
        location_id = (staff_id - 1) // STAFF_PER_LOCATION + 1
        state = REGIONS[(location_id - 1) // LOCATIONS_PER_REGION][2]
        role = STAFF_ROLES[(staff_id - 1) % STAFF_PER_LOCATION]
        for kind in credential_kinds(role):
            yield (
                staff_id, kind, f"{kind[:3].upper()}{staff_id:07d}",
                state if kind in ("state_license", "dea_registration") else None,
                dt.date(2022, 1, 1), credential_expiry(staff_id, kind),
                dt.date(2022, 1, 15), "credentialing@bench.example.org", now, now,
            )  # fmt: skip


def admin_user_rows(now: dt.datetime):
    from opsadmin.auth.passwords import hash_password

    password = hash_password(BENCH_PASSWORD)
    yield (BENCH_ADMIN_EMAIL, password, "admin", True, BENCH_TOTP_SECRET, True, now, now, now)


MASTER_TABLES = [  # (table, columns, row generator taking (now, start))
    ("region", ["id", "code", "name", "lead_emails", "created_at", "updated_at"],
     lambda now, start: region_rows(now)),
    ("location", ["id", "code", "name", "region_id", "address_line1", "city", "state",
                  "postal_code", "timezone", "phone", "active", "created_at", "updated_at"],
     lambda now, start: location_rows(now)),
    ("opening_hours", ["location_id", "weekday", "opens", "closes"],
     lambda now, start: opening_hours_rows()),
    ("location_closure", ["location_id", "starts_on", "ends_on", "reason"],
     lambda now, start: closure_rows(start)),
    ("site_registration", ["kind", "number", "state", "location_id", "expires_on",
                           "created_at", "updated_at"],
     lambda now, start: registration_rows(now)),
    ("room", ["id", "location_id", "name", "kind", "capacity", "active", "created_at",
              "updated_at"],
     lambda now, start: room_rows(now)),
    ("staff_member", ["id", "name", "email", "role", "active", "created_at", "updated_at"],
     lambda now, start: staff_rows(now)),
    ("staff_location", ["staff_id", "location_id"], lambda now, start: staff_location_rows()),
    ("credential", ["staff_id", "kind", "number", "state", "issued_on", "expires_on",
                    "verified_on", "verified_by", "created_at", "updated_at"],
     lambda now, start: credential_rows(now)),
    ("user_account", ["email", "password_hash", "role", "active", "totp_secret", "totp_enabled",
                      "password_changed_at", "created_at", "updated_at"],
     lambda now, start: admin_user_rows(now)),
]  # fmt: skip


def load_master_data(conn: psycopg.Connection, start: dt.date) -> None:
    now = dt.datetime.combine(start, dt.time(), dt.UTC)
    for table, columns, rows in MASTER_TABLES:
        copy_rows(conn, table, columns, rows(now, start))
    for table in ("region", "location", "room", "staff_member"):
        conn.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), max(id)) FROM {i}").format(
                t=sql.Literal(table), i=sql.Identifier(table)
            )
        )


# -- the big tables, generated inside PostgreSQL -------------------------------------------------
# h(x, salt): a cheap deterministic integer hash in [0, 2^31), so the load needs no random state.
HASH_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.h(x bigint, salt bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((x * 2654435761 + salt * 40503) % 2147483647 + 2147483647) % 2147483647 $$
"""


def slot_rows():
    """The (room ordinal, chair, start minute after opening, minutes, kind) positions of a day."""
    position = 0
    for ordinal, capacity in enumerate(INFUSION_CAPACITIES):
        for _chair in range(capacity):
            for slot in range(5):
                yield (position, ordinal, slot * 120, 120, "infusion")
                position += 1
    for consult in range(CONSULT_ROOMS):
        for slot in range(10):
            yield (position, len(INFUSION_CAPACITIES) + consult, slot * 60, 60, "consult")
            position += 1


POSITIONS = sum(INFUSION_CAPACITIES) * 5 + CONSULT_ROOMS * 10  # 120
POSITION_STEP = 49  # coprime with 120: j ↦ (49 j + offset) mod 120 visits distinct positions

APPOINTMENTS_SQL = """
INSERT INTO appointment (id, external_id, location_id, room_id, staff_id, kind, indication,
                         patient_ref, referral_id, starts_at, ends_at, status, created_at, updated_at)
SELECT row_number() OVER (ORDER BY p.day, p.location_id, p.j),
       'BK-' || to_char(p.day, 'YYYYMMDD') || '-' || p.location_id || '-' || p.j,
       p.location_id,
       (p.location_id - 1) * %(rooms)s + s.room_ordinal + 1,
       (p.location_id - 1) * %(staff)s + 1 + pg_temp.h(p.x, 2) %% %(clinicians)s,
       CASE WHEN s.kind = 'consult' AND pg_temp.h(p.x, 3) %% 3 = 0 THEN 'follow_up' ELSE s.kind END,
       (ARRAY['migraine','depression','depression','chronic_pain','other'])[1 + pg_temp.h(p.x, 4) %% 5],
       'P-' || (pg_temp.h(p.x, 5) %% 400000),
       CASE WHEN s.kind = 'consult' AND pg_temp.h(p.x, 6) %% 4 = 0
            THEN p.location_id + %(locations)s * (pg_temp.h(p.x, 7) %% %(referrals_per_location)s) END,
       p.local_open + make_interval(mins => s.start_minute),
       p.local_open + make_interval(mins => s.start_minute
            + CASE WHEN s.kind = 'infusion' AND pg_temp.h(p.x, 8) %% 5 = 0 THEN 90 ELSE s.minutes END),
       CASE WHEN p.day >= %(as_of)s THEN 'booked'
            WHEN pg_temp.h(p.x, 9) %% 100 < 5 THEN 'cancelled'
            WHEN pg_temp.h(p.x, 9) %% 100 < 13 THEN 'no_show'
            ELSE 'completed' END,
       p.local_open - interval '7 days',
       p.local_open - interval '7 days'
FROM (
    SELECT d.day, l.id AS location_id, j,
           ((%(end)s::date - d.day) * 1000 + l.id) * 128 + j AS x,
           (d.day + %(opens)s::time) AT TIME ZONE l.timezone AS local_open,
           (j * %(step)s + pg_temp.h((%(end)s::date - d.day) * 1000 + l.id, 1)) %% %(positions)s AS position
    FROM (SELECT day::date AS day FROM generate_series(%(start)s::date, %(end)s::date - 1, '1 day') AS day
          WHERE extract(isodow FROM day) < 7 AND NOT day::date = ANY(%(holidays)s)) AS d
    CROSS JOIN location AS l
    CROSS JOIN LATERAL generate_series(0,
        floor(%(rho)s * (((%(end)s::date - d.day) * %(locations)s + l.id) + 1))::int
        - floor(%(rho)s * ((%(end)s::date - d.day) * %(locations)s + l.id))::int - 1) AS j
) AS p
JOIN pg_temp.slot_def AS s ON s.position = p.position
"""

REFERRALS_SQL = """
INSERT INTO referral (id, patient_ref, indication, referring_provider_name, referring_provider_npi,
                      referring_provider_practice, received_on, consult_location_id,
                      treatment_location_id, planned_sessions, sessions_completed, follow_up_due_on,
                      status, status_changed_at, created_at, updated_at)
SELECT r.id, 'P-' || (pg_temp.h(r.id, 11) %% 400000),
       (ARRAY['migraine','depression','chronic_pain','other'])[1 + pg_temp.h(r.id, 12) %% 4],
       'Dr Referrer ' || (r.id %% 900), '1234567893', 'Practice ' || (r.id %% 300),
       r.received_on, r.location_id,
       CASE WHEN r.id %% 5 = 0 THEN r.region_first + (r.location_id - r.region_first + 1) %% %(per_region)s
            ELSE r.location_id END,
       6,
       CASE WHEN r.status = 'completed' THEN 6 WHEN r.status = 'in_treatment' THEN 1 + r.id %% 5 ELSE 0 END,
       CASE WHEN r.status = 'completed' THEN r.received_on + 70 END,
       r.status,
       (r.received_on + 3 + r.id %% 20)::timestamp AT TIME ZONE 'UTC',
       r.received_on::timestamp AT TIME ZONE 'UTC',
       (r.received_on + 3 + r.id %% 20)::timestamp AT TIME ZONE 'UTC'
FROM (
    SELECT id, (id - 1) %% %(locations)s + 1 AS location_id,
           ((id - 1) %% %(locations)s) / %(per_region)s * %(per_region)s + 1 AS region_first,
           %(end)s::date - 1 - (pg_temp.h(id, 13) %% %(days)s)::int AS received_on,
           CASE WHEN pg_temp.h(id, 14) %% 100 < 10 THEN 'received'
                WHEN pg_temp.h(id, 14) %% 100 < 15 THEN 'consult_scheduled'
                WHEN pg_temp.h(id, 14) %% 100 < 22 THEN 'consulted'
                WHEN pg_temp.h(id, 14) %% 100 < 27 THEN 'approved'
                WHEN pg_temp.h(id, 14) %% 100 < 32 THEN 'declined'
                WHEN pg_temp.h(id, 14) %% 100 < 40 THEN 'treatment_scheduled'
                WHEN pg_temp.h(id, 14) %% 100 < 55 THEN 'in_treatment'
                WHEN pg_temp.h(id, 14) %% 100 < 85 THEN 'completed'
                ELSE 'withdrawn' END AS status
    FROM generate_series(1, %(referrals)s) AS id
) AS r
"""

REFERRAL_EVENTS_SQL = """
INSERT INTO referral_event (referral_id, from_status, to_status, actor_type, actor_label, at, reason)
SELECT id, NULL, 'received', 'api_key', 'booking-system', created_at, '' FROM referral
UNION ALL
SELECT id, 'received', status, 'system', 'system', status_changed_at, ''
FROM referral WHERE status <> 'received'
"""

AUDIT_SQL = """
INSERT INTO audit_event (at, actor_type, actor_id, actor_label, action, entity, entity_id, detail, ip)
SELECT %(start)s::timestamp AT TIME ZONE 'UTC'
         + make_interval(secs => (pg_temp.h(n, 21) %% (%(days)s * 86400))::double precision),
       CASE WHEN n %% 3 = 0 THEN 'api_key' ELSE 'user' END,
       1 + n %% 40,
       CASE WHEN n %% 3 = 0 THEN 'booking-system' ELSE 'ops' || (1 + n %% 40) || '@bench.example.org' END,
       (ARRAY['create','update','update','view','login','export'])[1 + pg_temp.h(n, 22) %% 6],
       (ARRAY['appointment','appointment','referral','credential','room'])[1 + pg_temp.h(n, 23) %% 5],
       (1 + pg_temp.h(n, 24) %% 100000)::text,
       '', '127.0.0.1'
FROM generate_series(1, %(audit)s) AS n
"""


def saved_indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """The table's secondary indexes and unique constraints as (drop, create) statements."""
    found = []
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'u'",
        (table,),
    ).fetchall()
    for name, definition in constraints:
        found.append(
            (f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"',
             f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        )  # fmt: skip
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    ).fetchall()
    for name, definition in indexes:
        found.append((f'DROP INDEX "{name}"', definition))
    return found


def load_big_tables(conn: psycopg.Connection, scale: float, start: dt.date) -> dict[str, int]:
    days = history_days(scale)
    referrals = max(round(BASE_REFERRALS * scale), LOCATIONS)
    params = {
        "rooms": ROOMS_PER_LOCATION, "staff": STAFF_PER_LOCATION,
        "clinicians": CLINICIANS_PER_LOCATION, "locations": LOCATIONS,
        "per_region": LOCATIONS_PER_REGION, "referrals": referrals,
        "referrals_per_location": referrals // LOCATIONS, "as_of": AS_OF, "end": END,
        "start": start, "opens": OPENS, "step": POSITION_STEP, "positions": POSITIONS,
        "holidays": holidays(start, END), "rho": appointments_per_location_day(scale),
        "days": days, "audit": round(BASE_AUDIT_EVENTS * scale),
    }  # fmt: skip
    conn.execute(HASH_FUNCTION)
    conn.execute(
        "CREATE TEMP TABLE slot_def (position int PRIMARY KEY, room_ordinal int, "
        "start_minute int, minutes int, kind text)"
    )
    copy_rows(conn, "slot_def", ["position", "room_ordinal", "start_minute", "minutes", "kind"],
              slot_rows())  # fmt: skip
    counts = {}
    for table, statement in (
        ("referral", REFERRALS_SQL),
        ("referral_event", REFERRAL_EVENTS_SQL),
        ("appointment", APPOINTMENTS_SQL),
        ("audit_event", AUDIT_SQL),
    ):
        with step(f"{table}"):
            counts[table] = conn.execute(statement, params).rowcount
            conn.commit()
    for table in ("referral", "referral_event", "appointment", "audit_event"):
        conn.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), max(id)) FROM {i}").format(
                t=sql.Literal(table), i=sql.Identifier(table)
            )
        )
    return counts


def generate(url: str, scale: float) -> dict[str, int]:
    """(Re)create the database at ``url`` and load the chain; return the big tables' row counts."""
    start = END - dt.timedelta(days=history_days(scale))
    started = time.perf_counter()
    print(f"Generating scale {scale} into {url} ({start} – {END - dt.timedelta(days=1)})")
    with step("create database and schema"):
        recreate_database(url)
        create_schema(url)
    with psycopg.connect(url) as conn:
        # The load writes consistent data; skipping per-row FK triggers and WAL flushes makes it fast.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        with step("master data (COPY)"):
            load_master_data(conn, start)
            conn.commit()
        saved = [s for table in BIG_TABLES for s in saved_indexes(conn, table)]
        for drop, _create in saved:
            conn.execute(drop)
        conn.commit()
        counts = load_big_tables(conn, scale, start)
        with step(f"rebuild {len(saved)} indexes"):
            for _drop, create in saved:
                conn.execute(create)
            conn.commit()
    with psycopg.connect(url, autocommit=True) as conn, step("VACUUM (ANALYZE)"):
        conn.execute("VACUUM (ANALYZE)")
    elapsed = time.perf_counter() - started
    record_load(url, scale, elapsed, counts)
    print(f"  rows: {counts}")
    print(f"Done in {elapsed:.1f} s")
    return counts


def record_load(url: str, scale: float, seconds: float, counts: dict[str, int]) -> None:
    """Keep the load's own figures in the benchmark database, for the runner's report."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_load (scale float, seconds float, counts json, loaded_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO bench_load VALUES (%s, %s, %s, now())",
            (scale, seconds, json.dumps(counts)),
        )


def last_load(url: str) -> tuple[float, float, dict, dt.datetime] | None:
    """(scale, seconds, row counts, when) of the load that built the database at ``url``."""
    try:
        with psycopg.connect(url) as conn:
            return conn.execute(
                "SELECT scale, seconds, counts, loaded_at FROM bench_load"
            ).fetchone()
    except psycopg.Error:
        return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    generate(args.database_url, args.scale)


if __name__ == "__main__":
    main()
