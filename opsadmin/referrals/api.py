"""JSON API of referrals: create (Idempotency-Key), read with events, list, transitions.

Views parse, call :mod:`opsadmin.referrals.service` (every rule lives there) and present; the
POSTs' unit of work is committed by :func:`opsadmin.auth.idempotency.idempotent`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from opsadmin.audit import service as audit
from opsadmin.auth.apikeys import api_key_required
from opsadmin.auth.idempotency import idempotent
from opsadmin.db import begin_immediate
from opsadmin.extensions import db
from opsadmin.referrals import service
from opsadmin.referrals.models import Referral
from opsadmin.referrals.schemas import (
    ReferralCreateSchema,
    ReferralQuerySchema,
    ReferralSchema,
    ReferralSummarySchema,
    TransitionSchema,
)
from opsadmin.schemas import Blueprint, SelectPage

blp = Blueprint(
    "referrals",
    __name__,
    url_prefix="/api/v1/referrals",
    description="Referrals and their journey.",
)
blueprints: list[Blueprint] = [blp]


def referral_request(data: dict[str, Any]) -> service.ReferralRequest:
    provider = data["referring_provider"]
    return service.ReferralRequest(
        patient_ref=data["patient_ref"],
        indication=data["indication"],
        provider_name=provider["name"],
        provider_npi=provider["npi"],
        provider_practice=provider["practice"],
        received_on=data["received_on"],
        consult_location=data["consult_location"],
        treatment_location=data["treatment_location"],
        planned_sessions=data["planned_sessions"],
    )


def with_locations(query: sa.Select) -> sa.Select:
    return query.options(
        selectinload(Referral.consult_location), selectinload(Referral.treatment_location)
    )


@blp.route("")
class Referrals(MethodView):
    @api_key_required("read")
    @blp.arguments(ReferralQuerySchema, location="query")
    @blp.response(200, ReferralSummarySchema(many=True))
    @audit.audited_read("Referral")
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> sa.Select:
        """Referrals, newest first; filter by status, location (consult or treatment site),
        indication, and ``stalled`` (stalled thresholds). Events are on each referral's page."""
        return with_locations(service.filtered_referrals(db.session, **args))

    @api_key_required("write")
    @idempotent
    @blp.arguments(ReferralCreateSchema)
    @blp.response(201, ReferralSchema)
    @blp.alt_response(409, description="duplicate: the same Idempotency-Key is still running.")
    def post(self, data: dict[str, Any]) -> tuple[Referral, int, dict[str, str]]:
        """Create a referral in ``received``. Honours ``Idempotency-Key`` (kept 72 hours)."""
        referral = service.create_referral(db.session, referral_request(data))
        return referral, 201, {"Location": url_for("referrals.Referral", referral_id=referral.id)}


@blp.route("/<int:referral_id>", endpoint="Referral")
class ReferralDetail(MethodView):
    @api_key_required("read")
    @blp.response(200, ReferralSchema)
    def get(self, referral_id: int) -> Referral:
        """A referral with its events (oldest first) and screenings; the view is audited."""
        begin_immediate(db.session)  # this read writes its audit event
        referral = service.get_referral(db.session, referral_id)
        audit.record(db.session, "view", entity="Referral", entity_id=referral.id)
        db.session.commit()
        return referral


@blp.route("/<int:referral_id>/transitions")
class Transitions(MethodView):
    @api_key_required("write")
    @idempotent
    @blp.arguments(TransitionSchema)
    @blp.response(200, ReferralSchema)
    @blp.alt_response(409, description="invalid_transition: the state machine forbids it.")
    def post(self, data: dict[str, Any], referral_id: int) -> Referral:
        """Move a referral: 409 ``invalid_transition`` when the state machine forbids it; approving
        or declining needs ``screening`` (422 under ``errors.screening`` otherwise)."""
        return service.transition(
            db.session, referral_id, data["to"], data["reason"], data["screening"]
        )
