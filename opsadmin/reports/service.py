"""The report ledger: what is due, who builds it, what was sent.

The database, not Redis, is the source of truth. Every step is a conditional UPDATE, so two
workers, two cron ticks or a retried job can race without building a report twice or e-mailing a
lead twice: a run is claimed before it is built; a delivery is claimed ("sending") before the
message goes out and marked "sent" only once the SMTP server accepted it.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from opsadmin.audit.service import record
from opsadmin.config import setting
from opsadmin.db import utcnow
from opsadmin.errors import Conflict, InvalidInput, NotFound
from opsadmin.locations.models import Location, Region
from opsadmin.locations.service import zone
from opsadmin.reports.charts import Chart
from opsadmin.reports.followup import followup_for_region
from opsadmin.reports.forecast import forecast_for_region
from opsadmin.reports.models import REPORT_KINDS, ReportDelivery, ReportRun
from opsadmin.reports.render import Artefacts, render, subject_of
from opsadmin.reports.utilisation import utilisation_for_region
from opsadmin.reports.weeks import monday_after, parse_week, shift_week, week_of

SEND_HOUR = 7  # Monday 07:00 region-local
FORECAST_WEEKS = 4  # the utilisation e-mail's look ahead
CATCH_UP_WEEKS = 4
CLAIMABLE = ("pending", "queued", "failed")
RESUMABLE = ("queued", "running", "built", "failed")


def stuck_cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(minutes=int(setting("OPSADMIN_STUCK_RUN_MINUTES")))


# -- what is due -----------------------------------------------------------------------------


def region_zones(session: Session) -> dict[int, str]:
    """Each region's time zone: the zone most of its active locations use."""
    rows = session.execute(
        sa.select(Location.region_id, Location.timezone, sa.func.count())
        .where(Location.active.is_(True))
        .group_by(Location.region_id, Location.timezone)
    ).all()
    counts: dict[int, Counter] = {}
    for region_id, timezone, count in rows:
        counts.setdefault(region_id, Counter())[timezone] += count
    return {
        rid: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for rid, c in counts.items()
    }


def latest_due_week(now: dt.datetime, timezone: str) -> str:
    """The last week whose reports were due by ``now``: due Monday 07:00 local after the week."""
    local = now.astimezone(zone(timezone))
    monday = local.date() - dt.timedelta(days=local.weekday())
    if local.weekday() == 0 and local.hour < SEND_HOUR:
        monday -= dt.timedelta(days=7)
    return week_of(monday - dt.timedelta(days=1))


def weeks_to_insert(latest_due: str, last_recorded: str | None) -> list[str]:
    """The due weeks not yet in the ledger: the latest, and missed ones back to the last recorded."""
    weeks = [latest_due]
    while len(weeks) < CATCH_UP_WEEKS and last_recorded is not None:
        earlier = shift_week(weeks[-1], -1)
        if parse_week(earlier) <= parse_week(last_recorded):
            break
        weeks.append(earlier)
    return weeks


def insert_runs_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT (kind, region_id, week) DO NOTHING, on PostgreSQL and SQLite."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    rows = [{**row, "status": "pending", "created_at": now, "updated_at": now} for row in rows]
    statement = dialect.insert(ReportRun).values(rows)
    session.execute(statement.on_conflict_do_nothing(index_elements=["kind", "region_id", "week"]))


def record_due_runs(session: Session, now: dt.datetime) -> None:
    """Insert the ReportRun of every due (kind, region, week), catching up missed Mondays."""
    # ISO week strings sort chronologically ("2026-W09" < "2026-W10").
    last = {
        (kind, region_id): week
        for kind, region_id, week in session.execute(
            sa.select(ReportRun.kind, ReportRun.region_id, sa.func.max(ReportRun.week)).group_by(
                ReportRun.kind, ReportRun.region_id
            )
        )
    }
    rows = []
    for region_id, timezone in region_zones(session).items():
        latest = latest_due_week(now, timezone)
        for kind in REPORT_KINDS:
            for week in weeks_to_insert(latest, last.get((kind, region_id))):
                rows.append({"kind": kind, "region_id": region_id, "week": week})
    insert_runs_ignoring_duplicates(session, rows)


def mark_queued(session: Session, run_id: int, now: dt.datetime, *, force: bool = False) -> bool:
    """Pending → queued; a run stuck past the bound (or ``force``d, not sent) is queued again."""
    stale = sa.and_(ReportRun.status.in_(RESUMABLE), ReportRun.updated_at < stuck_cutoff(now))
    condition = (
        ReportRun.status != "sent" if force else sa.or_(ReportRun.status == "pending", stale)
    )
    result = session.execute(
        sa.update(ReportRun)
        .where(ReportRun.id == run_id, condition)
        .values(
            status=sa.case((ReportRun.status == "built", "built"), else_="queued"),
            enqueued_at=now,
            updated_at=now,
        )
    )
    return result.rowcount == 1


def runs_to_enqueue(session: Session, now: dt.datetime) -> list[int]:
    """Mark and return the runs to enqueue: new ones, and those stuck past the bound."""
    candidates = session.scalars(
        sa.select(ReportRun.id)
        .where(
            sa.or_(
                ReportRun.status == "pending",
                sa.and_(ReportRun.status.in_(RESUMABLE), ReportRun.updated_at < stuck_cutoff(now)),
            )
        )
        .order_by(ReportRun.id)
    ).all()
    return [run_id for run_id in candidates if mark_queued(session, run_id, now)]


def release_stuck_deliveries(session: Session, now: dt.datetime) -> int:
    """Deliveries left "sending" by a killed job go back to pending (at most one duplicate:
    the message whose acceptance was never recorded)."""
    result = session.execute(
        sa.update(ReportDelivery)
        .where(ReportDelivery.status == "sending", ReportDelivery.updated_at < stuck_cutoff(now))
        .values(status="pending", updated_at=now)
    )
    return result.rowcount


def dispatch(session: Session, now: dt.datetime | None = None) -> list[int]:
    """The hourly dispatcher's work: record what is due, sweep what is stuck; the run ids to enqueue.

    The caller commits, then enqueues (a job must find its run committed).
    """
    now = now or utcnow()
    record_due_runs(session, now)
    release_stuck_deliveries(session, now)
    return runs_to_enqueue(session, now)


# -- building a run --------------------------------------------------------------------------


def get_run(session: Session, run_id: int) -> ReportRun:
    run = session.get(ReportRun, run_id)
    if run is None:
        raise NotFound(f"No report run {run_id}.")
    return run


def claim_run(session: Session, run_id: int, job_id: str) -> bool:
    """Take the run for building. Only one job wins; the same rq job may take it back after its
    work horse was killed (rq retries a job under its own id, never two executions at once)."""
    now = utcnow()
    result = session.execute(
        sa.update(ReportRun)
        .where(
            ReportRun.id == run_id,
            sa.or_(
                ReportRun.status.in_(CLAIMABLE),
                sa.and_(ReportRun.status == "running", ReportRun.job_id == job_id),
            ),
        )
        .values(
            status="running",
            job_id=job_id,
            attempts=ReportRun.attempts + 1,
            started_at=now,
            progress="building",
            error="",
            updated_at=now,
        )
    )
    return result.rowcount == 1


def build_figures(session: Session, kind: str, region_code: str, week: str) -> dict[str, Any]:
    if kind not in REPORT_KINDS:
        raise InvalidInput(
            f"Unknown report {kind!r}.", errors={"kind": [f"One of {REPORT_KINDS}."]}
        )
    if kind == "utilisation":
        figures = utilisation_for_region(session, week, region_code)
        # The weeks after the report's: from its reader's Monday on.
        ahead = forecast_for_region(session, region_code, FORECAST_WEEKS, shift_week(week, 1))
        return {**figures, "forecast": ahead}
    return followup_for_region(session, region_code, monday_after(week), week)


def build_artefacts(
    session: Session, kind: str, region_code: str, week: str
) -> tuple[dict, Artefacts]:
    figures = build_figures(session, kind, region_code, week)
    return figures, render(figures)


def store_build(session: Session, run: ReportRun, figures: dict, artefacts: Artefacts) -> None:
    """Keep the artefacts with the run (a resend or a download never rebuilds) and its deliveries."""
    now = utcnow()
    run.figures = figures
    run.html, run.text, run.csv, run.png = (
        artefacts.html,
        artefacts.text,
        artefacts.csv,
        artefacts.png,
    )
    run.charts = charts_to_store(artefacts.charts)
    run.content_sha256 = artefacts.sha256
    run.status, run.progress, run.built_at, run.updated_at = "built", "built", now, now
    ensure_deliveries(session, run)


def subject_of_run(run: ReportRun) -> str:
    return subject_of(run.figures or {"kind": run.kind, "week": run.week})


def charts_to_store(charts: tuple[Chart, ...]) -> list[dict[str, str]]:
    return [{"name": c.name, "alt": c.alt, "png": base64.b64encode(c.png).decode()} for c in charts]


def stored_charts(run: ReportRun) -> list[Chart]:
    """The run's charts, in the order the e-mail shows them."""
    return [Chart(c["name"], c["alt"], base64.b64decode(c["png"])) for c in (run.charts or [])]


def ensure_deliveries(session: Session, run: ReportRun) -> None:
    """One delivery per current recipient of the region (existing ones are kept as they are)."""
    recipients = sorted({e.strip().lower() for e in run.region.lead_emails or [] if e.strip()})
    if not recipients:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    rows = [
        {
            "run_id": run.id,
            "recipient": r,
            "status": "pending",
            "generation": 1,
            "created_at": now,
            "updated_at": now,
        }
        for r in recipients
    ]
    session.execute(
        dialect.insert(ReportDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["run_id", "recipient"])
    )


def fail_run(session: Session, run_id: int, error: str) -> None:
    session.execute(
        sa.update(ReportRun)
        .where(ReportRun.id == run_id, ReportRun.status == "running")
        .values(status="failed", error=error[:2000], progress="failed", updated_at=utcnow())
    )


def unsent_deliveries(session: Session, run_id: int) -> list[tuple[int, int]]:
    """(delivery id, generation) of the run's deliveries still to send."""
    return [
        (delivery_id, generation)
        for delivery_id, generation in session.execute(
            sa.select(ReportDelivery.id, ReportDelivery.generation)
            .where(
                ReportDelivery.run_id == run_id, ReportDelivery.status.in_(("pending", "failed"))
            )
            .order_by(ReportDelivery.recipient)
        )
    ]


def finish_if_delivered(session: Session, run_id: int) -> bool:
    """A built run becomes sent once every delivery is sent (call it after committing a send)."""
    now = utcnow()
    outstanding = (
        sa.select(ReportDelivery.id)
        .where(ReportDelivery.run_id == run_id, ReportDelivery.status != "sent")
        .exists()
    )
    result = session.execute(
        sa.update(ReportRun)
        .where(ReportRun.id == run_id, ReportRun.status == "built", ~outstanding)
        .values(status="sent", progress="sent", finished_at=now, updated_at=now)
    )
    return result.rowcount == 1


# -- delivering ------------------------------------------------------------------------------


def message_id(delivery: ReportDelivery) -> str:
    """Stable per delivery and generation: a retry repeats it, an explicit resend changes it."""
    domain = str(setting("MAIL_FROM")).rpartition("@")[2] or "opsadmin"
    return f"<report-{delivery.run_id}-{delivery.id}-g{delivery.generation}@{domain}>"


def claim_delivery(session: Session, delivery_id: int, generation: int) -> bool:
    now = utcnow()
    result = session.execute(
        sa.update(ReportDelivery)
        .where(
            ReportDelivery.id == delivery_id,
            ReportDelivery.generation == generation,
            ReportDelivery.status.in_(("pending", "failed")),
        )
        .values(status="sending", attempts=ReportDelivery.attempts + 1, error="", updated_at=now)
    )
    return result.rowcount == 1


def mark_delivery_sent(session: Session, delivery: ReportDelivery) -> None:
    delivery.status, delivery.sent_at, delivery.message_id = "sent", utcnow(), message_id(delivery)
    record(
        session,
        "sent",
        entity="ReportDelivery",
        entity_id=delivery.id,
        detail=f"report run {delivery.run_id} to {delivery.recipient} {delivery.message_id}",
    )


def mark_delivery_failed(session: Session, delivery_id: int, error: str) -> None:
    session.execute(
        sa.update(ReportDelivery)
        .where(ReportDelivery.id == delivery_id, ReportDelivery.status == "sending")
        .values(status="failed", error=error[:2000], updated_at=utcnow())
    )


# -- on request: run now, resend, the CLI ----------------------------------------------------


def get_region(session: Session, code: str) -> Region:
    region = session.scalar(sa.select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(f"No region {code!r}.", errors={"region": [f"Unknown region {code!r}."]})
    return region


def ensure_run(
    session: Session, kind: str, region: Region, week: str, requested_by: str
) -> ReportRun:
    """The ledger row of (kind, region, week), created if missing (racing creators are harmless)."""
    parse_week(week)
    if kind not in REPORT_KINDS:
        raise InvalidInput(
            f"Unknown report {kind!r}.", errors={"kind": [f"One of {REPORT_KINDS}."]}
        )
    insert_runs_ignoring_duplicates(
        session,
        [{"kind": kind, "region_id": region.id, "week": week, "requested_by": requested_by}],
    )
    return session.scalars(
        sa.select(ReportRun).where(
            ReportRun.kind == kind, ReportRun.region_id == region.id, ReportRun.week == week
        )
    ).one()


def week_is_over(session: Session, region: Region, week: str, now: dt.datetime) -> bool:
    """True once the region's local clock has passed the week's last day."""
    timezone = region_zones(session).get(region.id, "UTC")
    return now.astimezone(zone(timezone)).date() >= monday_after(week)


def request_send(
    session: Session, kind: str, region: Region, week: str, requested_by: str
) -> tuple[ReportRun, list[tuple[int, int]] | None]:
    """The console's "Send": the report of a finished week to every lead who does not have it.

    Returns the run and either None (the run is queued: build, then send) or the deliveries to
    send now (a built run, or a sent one with leads added since). A lead who has it never gets it
    twice from here; only :func:`resend` sends it again.
    """
    parse_week(week)
    if not week_is_over(session, region, week, utcnow()):
        raise Conflict(
            f"Week {week} is not over yet: preview it, send it once it has ended.",
            code="week_not_over",
        )
    run = ensure_run(session, kind, region, week, requested_by)
    session.refresh(run)
    if run.status in ("built", "sent"):
        pending = add_new_recipients(session, run.id)
        if not pending:
            raise Conflict(
                "Every lead already has this report; use resend to send it again.",
                code="already_sent",
            )
        return run, pending
    if not mark_queued(session, run.id, utcnow(), force=run.status != "running"):
        raise Conflict("This report is being built right now.", code="run_in_progress")
    session.refresh(run)
    return run, None


def resend(session: Session, run: ReportRun) -> list[tuple[int, int]]:
    """The console's explicit resend: every recipient gets the stored report again (a new
    generation, hence a new Message-ID); recipients added since get their first."""
    if run.status not in ("built", "sent") or run.html is None:
        raise Conflict("Only a built report can be resent.", code="not_built")
    for delivery in run.deliveries:
        delivery.generation += 1
        delivery.status, delivery.sent_at, delivery.error = "pending", None, ""
    run.status, run.progress, run.finished_at = "built", "resending", None
    session.flush()
    ensure_deliveries(session, run)
    return unsent_deliveries(session, run.id)


def add_new_recipients(session: Session, run_id: int) -> list[tuple[int, int]]:
    """Deliveries for leads added since the run was built; the deliveries still unsent.

    A sent run with a new lead goes back to built until that lead has it too.
    """
    run = get_run(session, run_id)
    ensure_deliveries(session, run)
    pending = unsent_deliveries(session, run_id)
    if pending and run.status == "sent":
        run.status, run.finished_at = "built", None
    return pending
