"""Console views of the reports feature: report runs ("run now", "resend", downloads, the chart)
and, in embedded mode, the outbox of e-mails that were not sent over SMTP."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import redis
import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from opsadmin.audit.service import acting_as, record
from opsadmin.config import setting
from opsadmin.console import SecureModelView, SecureView, console_actor, user_region_ids
from opsadmin.db import utcnow
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.jobs import EMAIL, REPORTS, enqueue
from opsadmin.locations.models import Region
from opsadmin.notifications.outbox import (
    attachment,
    list_outbox,
    message_parts,
    read_outbox_message,
)
from opsadmin.reports import service
from opsadmin.reports.jobs import run_report, send_delivery
from opsadmin.reports.models import REPORT_KINDS, ReportRun
from opsadmin.reports.render import for_browser
from opsadmin.reports.weeks import week_of

ARTEFACTS = {
    "html": ("text/html", "html", True),
    "text": ("text/plain", "txt", True),
    "csv": ("text/csv", "csv", True),
    "png": ("image/png", "png", False),
}


def visible_regions() -> list[Region]:
    region_ids = user_region_ids()
    query = sa.select(Region).order_by(Region.code)
    if region_ids is not None:
        query = query.where(Region.id.in_(region_ids or {-1}))
    return list(db.session.scalars(query))


log = logging.getLogger(__name__)


def enqueued(enqueue: Any, what: str) -> bool:
    """Run ``enqueue``; with the job queue (Redis) down, tell the user the recorded work goes out
    once it is back (the dispatcher re-enqueues runs and deliveries left waiting)."""
    try:
        enqueue()
    except (redis.RedisError, OSError):
        log.warning("job queue unavailable: %s waits in the ledger", what)
        flash(
            f"{what} is recorded, but the job queue is unavailable right now: "
            "it will go out automatically when the queue is back.",
            "warning",
        )
        return False
    return True


class ReportRunView(SecureModelView):
    """Report runs: status, progress, timings, error; run now, resend, downloads."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    list_template = "reports/run_list.html"
    details_template = "reports/run_details.html"
    column_list = (
        "kind", "region", "week", "status", "progress", "attempts",
        "enqueued_at", "started_at", "built_at", "finished_at", "error",
    )  # fmt: skip
    column_details_list = (*column_list, "requested_by", "content_sha256", "created_at")
    column_filters = ("kind", "week", "status")
    column_default_sort = ("id", True)
    column_searchable_list = ("week",)
    column_labels = {"content_sha256": "Content SHA-256"}

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        # Named here rather than as ``region_column``: a mapped attribute on the view class
        # would be read through its descriptor (SecureModelView reads self.region_column).
        return query.filter(ReportRun.region_id.in_(region_ids or {-1}))

    def render(self, template: str, **kwargs: Any) -> str:
        kwargs.setdefault("report_kinds", REPORT_KINDS)
        kwargs.setdefault("regions", visible_regions())
        kwargs.setdefault("last_week", week_of(dt.date.today() - dt.timedelta(days=7)))
        kwargs.setdefault("can_run", self.can_write())
        return super().render(template, **kwargs)

    def _run_or_404(self, run_id: int) -> ReportRun:
        run = self.get_one(str(run_id))  # scoped: another region's run is a 404
        if run is None:
            abort(404)
        return run

    def _requested(self, values: Any) -> tuple[str, Region, str]:
        """(kind, region, week) of a run-now or send request; 404 outside the user's regions."""
        kind, week = values.get("kind", ""), values.get("week", "").strip()
        region = next((r for r in visible_regions() if r.code == values.get("region")), None)
        if region is None:
            abort(404)
        return kind, region, week

    @expose("/preview/")
    def preview(self) -> Response | str:
        """ "Run now": build the report and show it as its e-mail reads; nothing is sent or stored."""
        kind, region, week = self._requested(request.args)
        try:
            figures, artefacts = service.build_artefacts(db.session, kind, region.code, week)
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for(".index_view"))
        finally:
            db.session.rollback()  # a preview writes nothing
        return self.render(
            "reports/run_preview.html",
            kind=kind,
            region=region,
            week=week,
            subject=artefacts.subject,
            email_html=for_browser(artefacts.html, artefacts.charts),
            email_text=artefacts.text,
            week_over=service.week_is_over(db.session, region, week, utcnow()),
        )

    @expose("/send/", methods=["POST"])
    def send(self) -> Response:
        """Send the report of a finished week to every lead who does not have it yet, once
        confirmed; a lead who has it gets it again only through resend."""
        if not self.can_write():
            abort(403)
        kind, region, week = self._requested(request.form)
        back = url_for(".preview", kind=kind, region=region.code, week=week)
        if request.form.get("confirm") != "yes":
            flash("Tick the confirmation to send the report to the leads.", "error")
            return redirect(back)
        try:
            with acting_as(console_actor()):
                run, pending = service.request_send(
                    db.session, kind, region, week, current_user.email
                )
                # A run may be inserted with ON CONFLICT, past the audit hook: say who asked.
                record(db.session, "send", entity="ReportRun", entity_id=run.id,
                       detail=f"{kind} {region.code} {week}")  # fmt: skip
                db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(back)
        what = f"{kind} {region.code} {week}"
        if pending is None:
            # After the commit: the job must find its run.
            if enqueued(lambda: enqueue(REPORTS, run_report, run.id), what):
                flash(f"{what}: sending to every lead.", "success")
        elif enqueued(lambda: [enqueue(EMAIL, send_delivery, *p) for p in pending], what):
            flash(f"Sending to {len(pending)} lead(s) who did not have it yet.", "success")
        return redirect(url_for(".details_view", id=run.id))

    @expose("/<int:run_id>/email/")
    def email(self, run_id: int) -> str:
        """The stored e-mail of a built run, as its leads read it (read-only; scoped)."""
        run = self._run_or_404(run_id)
        if run.html is None:
            abort(404)
        return self.render(
            "reports/run_email.html",
            run=run,
            subject=service.subject_of_run(run),
            email_html=for_browser(run.html, service.stored_charts(run)),
            email_text=run.text or "",
        )

    @expose("/<int:run_id>/resend/", methods=["POST"])
    def resend(self, run_id: int) -> Response:
        """Send the stored report again to every lead (a new Message-ID each)."""
        if not self.can_write():
            abort(403)
        run = self._run_or_404(run_id)
        try:
            with acting_as(console_actor()):
                pending = service.resend(db.session, run)
                record(db.session, "resend", entity="ReportRun", entity_id=run.id)
                db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".details_view", id=run_id))

        def send_all() -> None:
            for delivery_id, generation in pending:
                enqueue(EMAIL, send_delivery, delivery_id, generation)

        if enqueued(send_all, f"The resend of {run.kind} {run.region.code} {run.week}"):
            flash(f"Resending to {len(pending)} recipient(s).", "success")
        return redirect(url_for(".details_view", id=run_id))

    @expose("/<int:run_id>/artefact/<kind>")
    def artefact(self, run_id: int, kind: str) -> Response:
        """Download the run's HTML, text or CSV, or show its PNG chart."""
        if kind not in ARTEFACTS:
            abort(404)
        run = self._run_or_404(run_id)
        content = getattr(run, kind)
        if content is None:
            abort(404)
        mimetype, extension, as_download = ARTEFACTS[kind]
        with acting_as(console_actor()):
            record(db.session, "export", entity="ReportRun", entity_id=run.id, detail=kind)
            db.session.commit()
        response = Response(content, mimetype=mimetype)
        name = f"{run.kind}-{run.region.code}-{run.week}.{extension}"
        disposition = "attachment" if as_download else "inline"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
        return response


class OutboxView(SecureView):
    """Embedded mode: the e-mails written to instance/outbox instead of being sent."""

    @staticmethod
    def embedded() -> bool:
        return not setting("SMTP_HOST")

    def is_visible(self) -> bool:
        return self.embedded()

    def is_accessible(self) -> bool:
        return super().is_accessible() and self.embedded()

    def _region_codes(self) -> set[str] | None:
        return None if user_region_ids() is None else {r.code for r in visible_regions()}

    @expose("/")
    def index(self) -> str:
        entries = list_outbox(setting("OPSADMIN_OUTBOX_DIR"), self._region_codes())
        return self.render("reports/outbox.html", entries=entries)

    def _message_or_404(self, filename: str) -> Any:
        message = read_outbox_message(setting("OPSADMIN_OUTBOX_DIR"), filename)
        codes = self._region_codes()
        if message is None or (codes is not None and message.get("X-Opsadmin-Region") not in codes):
            abort(404)
        return message

    @expose("/<filename>/attachments/<int:index>")
    def attachment(self, filename: str, index: int) -> Response:
        """Download one attachment of an outbox message (audited like a report download)."""
        found = attachment(self._message_or_404(filename), index)
        if found is None:
            abort(404)
        name, mimetype, content = found
        with acting_as(console_actor()):
            record(db.session, "export", entity="Outbox", entity_id=filename, detail=name)
            db.session.commit()
        response = Response(content, mimetype=mimetype)
        safe_name = "".join(c for c in name if c.isalnum() or c in "._-") or "attachment"
        response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
        return response

    @expose("/<filename>")
    def message(self, filename: str) -> str:
        # (not "name": flask-admin passes the view function's name under that keyword)
        message = self._message_or_404(filename)
        return self.render(
            "reports/outbox_message.html",
            name=filename,
            message=message,
            parts=message_parts(message),
        )


def admin_views() -> list[BaseView]:
    """The views the console shows for this feature, in menu order."""
    return [
        ReportRunView(
            ReportRun,
            db,
            name="Report runs",
            category="Reports",
            endpoint="admin_report_runs",
            url="report_runs",
        ),
        OutboxView(name="Outbox", endpoint="outbox", category="Reports"),
    ]
