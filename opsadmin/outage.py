"""What every surface answers while the database or the job queue (Redis) is unreachable.

The API answers 503 problem+json (:mod:`opsadmin.api.errors`); the console answers the styled
page below, with ``Retry-After`` and never a trace. The page reads nothing from the database
(not even the signed-in user), so it renders while the database is down.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, current_app, render_template

from opsadmin.config import setting

DATABASE = "database"
QUEUE = "queue"
MESSAGES = {
    DATABASE: "The database is not answering. Nothing you did was lost; try again in a moment.",
    QUEUE: "The job queue is not answering. Try again in a moment.",
}


def retry_after() -> str:
    return str(int(setting("OPSADMIN_RETRY_AFTER_SECONDS") or 30))


def is_database_outage(error: Exception) -> bool:
    """A failure of the database itself (down, unreachable, timed out), not of the request."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection came free in time
        return True
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError) or bool(
        getattr(error, "connection_invalidated", False)
    )


def console_unavailable(part: str) -> Response:
    """The console's 503 page for ``part`` (DATABASE or QUEUE)."""
    current_app.logger.error("console: %s unavailable", part)
    html = render_template("errors/unavailable.html", message=MESSAGES[part])
    response = current_app.response_class(html, status=503, mimetype="text/html")
    response.headers["Retry-After"] = retry_after()
    return response
