"""GET /healthz: is the database (and Redis, when configured) reachable? No authentication.

200 when every configured part answers, 503 otherwise, naming the part that failed, so a load
balancer takes the instance out and an operator sees why.
"""

from __future__ import annotations

import marshmallow as ma
import redis
import sqlalchemy as sa
from flask import current_app

from opsadmin.config import setting
from opsadmin.extensions import db
from opsadmin.schemas import Blueprint, Schema

blp = Blueprint("health", __name__, description="Liveness of the database and Redis.")

STATES = ("ok", "unavailable", "not_configured")


class HealthSchema(Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(("ok", "unavailable")))
    database = ma.fields.String(required=True, validate=ma.validate.OneOf(STATES))
    redis = ma.fields.String(required=True, validate=ma.validate.OneOf(STATES))


def database_state() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except sa.exc.SQLAlchemyError:
        current_app.logger.warning("healthz: database unreachable")
        return "unavailable"
    finally:
        try:
            db.session.rollback()
        except sa.exc.SQLAlchemyError:
            pass  # the database is down: there is nothing to roll back to


def redis_state() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "not_configured"
    timeout = float(setting("OPSADMIN_REDIS_TIMEOUT") or 1)
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return "ok"
    except (redis.RedisError, OSError):
        current_app.logger.warning("healthz: redis unreachable")
        return "unavailable"
    finally:
        client.close()


@blp.route("/healthz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="A part is unreachable.")
def healthz() -> tuple[dict[str, str], int]:
    """Database and Redis reachability."""
    parts = {"database": database_state(), "redis": redis_state()}
    healthy = "unavailable" not in parts.values()
    return {"status": "ok" if healthy else "unavailable", **parts}, 200 if healthy else 503
