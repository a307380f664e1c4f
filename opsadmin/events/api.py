"""JSON API of events: the feed (``read``) and webhook endpoints (``admin``).

Views parse, call :mod:`opsadmin.events.service` / :mod:`opsadmin.events.webhooks`, commit and
present.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from opsadmin.auth.apikeys import api_key_required
from opsadmin.events import webhooks
from opsadmin.events.models import WebhookEndpoint
from opsadmin.events.schemas import (
    EventPageSchema,
    EventQuerySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookSchema,
)
from opsadmin.events.service import events_after
from opsadmin.extensions import db
from opsadmin.schemas import Blueprint, SelectPage

events = Blueprint(
    "events", __name__, url_prefix="/api/v1/events", description="The feed of changes."
)
hooks = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Endpoints that receive the events, signed (Standard Webhooks).",
)
blueprints: list[Blueprint] = [events, hooks]


@events.route("")
class EventFeed(MethodView):
    @api_key_required("read")
    @events.arguments(EventQuerySchema, location="query")
    @events.response(200, EventPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events with an id above ``after``, oldest first.

        Resume from ``next_after``: ids are numbered in commit order, so no event is ever
        skipped, not even one whose transaction committed after a later id was read."""
        rows, next_after = events_after(db.session, args["after"], args["limit"], args.get("type"))
        return {"events": rows, "next_after": next_after}


@hooks.route("")
class WebhookList(MethodView):
    @api_key_required("admin")
    @hooks.arguments(WebhookCreateSchema)
    @hooks.response(201, WebhookCreatedSchema)
    def post(self, body: dict[str, Any]) -> tuple[WebhookEndpoint, int, dict[str, str]]:
        """Register an endpoint; the answer holds its signing secret, shown this once.

        The URL must be https:// on a public address (see the API guide for the settings that
        allow http:// or private addresses)."""
        endpoint = webhooks.create_endpoint(
            db.session, body["url"], body["events"], body["description"]
        )
        db.session.commit()
        location = url_for("webhooks.WebhookItem", endpoint_id=endpoint.id)
        return endpoint, 201, {"Location": location}

    @api_key_required("admin")
    @hooks.response(200, WebhookSchema(many=True))
    @hooks.paginate(SelectPage)
    def get(self) -> Any:
        """The registered endpoints (without their secrets)."""
        return webhooks.endpoints_query()


@hooks.route("/<int:endpoint_id>")
class WebhookItem(MethodView):
    @api_key_required("admin")
    @hooks.response(200, WebhookSchema)
    def get(self, endpoint_id: int) -> WebhookEndpoint:
        """One endpoint (without its secret)."""
        return webhooks.get_endpoint(db.session, endpoint_id)

    @api_key_required("admin")
    @hooks.response(204)
    def delete(self, endpoint_id: int) -> None:
        """Stop sending to the endpoint; its pending deliveries are cancelled."""
        webhooks.delete_endpoint(db.session, endpoint_id)
        db.session.commit()
