"""Console views of webhooks (administrators): endpoints (created here, secret shown once),
deliveries with "replay", and the log of every attempt."""

from __future__ import annotations

from typing import Any

from flask import flash, g, request
from flask_admin import BaseView, expose
from flask_admin.actions import action
from wtforms import fields, validators

from opsadmin.console import ConsoleSecureForm, SecureModelView
from opsadmin.errors import DomainError
from opsadmin.events import webhooks
from opsadmin.events.models import (
    EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from opsadmin.extensions import db


class WebhookForm(ConsoleSecureForm):
    url = fields.URLField(
        "URL", validators=[validators.InputRequired(), validators.Length(max=2000)]
    )
    events = fields.SelectMultipleField(
        "Events", choices=[(t, t) for t in EVENT_TYPES], validators=[validators.InputRequired()]
    )
    description = fields.StringField("Description", validators=[validators.Length(max=500)])


class _AdminOnly(SecureModelView):
    allowed_roles = ("admin",)
    write_roles = ("admin",)
    can_export = False

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        return query  # administrators only (allowed_roles): there is nothing to scope


class WebhookEndpointView(_AdminOnly):
    """Endpoints: created here (the secret shown once), deleted here; never the secret again."""

    can_edit = False
    column_list = ("id", "url", "events", "active", "failing_since", "disabled_at", "description")
    column_details_list = column_list + ("created_at",)
    column_searchable_list = ("url", "description")
    column_filters = ("active",)
    column_default_sort = ("id", True)

    def get_query(self):
        return super().get_query().filter(WebhookEndpoint.deleted_at.is_(None))

    def get_count_query(self):
        return super().get_count_query().filter(WebhookEndpoint.deleted_at.is_(None))

    def scaffold_form(self):
        return WebhookForm

    def create_model(self, form: Any):
        try:
            endpoint = webhooks.create_endpoint(
                db.session,
                form.url.data or "",
                list(form.events.data or []),
                form.description.data or "",
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return False
        g.new_webhook = endpoint
        return endpoint

    def delete_model(self, model: Any) -> bool:
        webhooks.delete_endpoint(db.session, model.id)
        db.session.commit()
        return True

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """On success, show the secret on this response only (never flashed into the cookie)."""
        if request.method != "POST":
            return super().create_view()
        form = self.create_form()
        if self.validate_form(form) and self.create_model(form):
            endpoint = g.pop("new_webhook")
            return self.render(
                "admin/console_webhook_created.html", endpoint=endpoint, secret=endpoint.secret
            )
        return self.render(self.create_template, form=form, return_url=self.get_url(".index_view"))


class WebhookDeliveryView(_AdminOnly):
    """Each event owed to an endpoint, its status and attempts; "replay" sends it again."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = (
        "id", "event_id", "event.type", "endpoint.url", "status", "attempts",
        "last_response_code", "next_attempt_at", "created_at",
    )  # fmt: skip
    column_labels = {"event.type": "Event type", "endpoint.url": "Endpoint"}
    column_filters = ("status", "endpoint_id", "event_id")
    column_default_sort = ("id", True)
    simple_list_pager = True

    @action("replay", "Replay", "Send the selected events again (same webhook-id)?")
    def action_replay(self, ids: list[Any]) -> None:
        deliveries = self.rows_for_action(ids)
        for delivery in deliveries:
            webhooks.replay(db.session, delivery.id)
        db.session.commit()
        flash(f"Replaying {len(deliveries)} delivery(ies).", "success")


class WebhookAttemptView(_AdminOnly):
    """Every POST made: when, the answer, how long it took."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = (
        "at", "delivery_id", "delivery.event_id", "delivery.endpoint.url", "succeeded",
        "response_code", "duration_ms", "error",
    )  # fmt: skip
    column_labels = {
        "at": "At (UTC)",
        "delivery.event_id": "Event",
        "delivery.endpoint.url": "Endpoint",
        "duration_ms": "Duration (ms)",
    }
    column_filters = ("succeeded", "response_code", "delivery_id")
    column_default_sort = ("at", True)
    simple_list_pager = True


def admin_views() -> list[BaseView]:
    """Webhook endpoints, deliveries and attempts (administrators only)."""
    common = {"category": "Webhooks"}
    return [
        WebhookEndpointView(
            WebhookEndpoint,
            db,
            name="Endpoints",
            endpoint="admin_webhooks",
            url="webhooks",
            **common,
        ),
        WebhookDeliveryView(
            WebhookDelivery,
            db,
            name="Deliveries",
            endpoint="admin_webhook_deliveries",
            url="webhook-deliveries",
            **common,
        ),
        WebhookAttemptView(
            WebhookAttempt,
            db,
            name="Attempts",
            endpoint="admin_webhook_attempts",
            url="webhook-attempts",
            **common,
        ),
    ]
