"""The periodic schedule for ``rq cron`` (``python worker.py cron`` loads this module).

One cron process per deployment (set ``TZ``). The dispatcher runs hourly: it is idempotent and
catches up missed Mondays, so a missed or doubled tick is harmless. The webhook sweep runs every
minute: it re-queues due retries and deliveries whose job was lost (the ledger is the database). The worker runs each job in
its app context (:class:`opsadmin.jobs.AppJob`).
"""

from __future__ import annotations

from rq import cron

from opsadmin.bookings.jobs import check_bookings_at_risk
from opsadmin.events.webhooks import sweep_webhooks
from opsadmin.jobs import DEFAULT, DISPATCH_JOB_TIMEOUT
from opsadmin.reports.jobs import dispatch_reports, notify_credential_expiry

cron.register(dispatch_reports, DEFAULT, cron="5 * * * *", job_timeout=DISPATCH_JOB_TIMEOUT)
cron.register(
    notify_credential_expiry, DEFAULT, cron="30 6 * * *", job_timeout=DISPATCH_JOB_TIMEOUT
)
cron.register(sweep_webhooks, DEFAULT, cron="* * * * *", job_timeout=DISPATCH_JOB_TIMEOUT)
cron.register(check_bookings_at_risk, DEFAULT, cron="45 6 * * *", job_timeout=DISPATCH_JOB_TIMEOUT)
