"""Helpers for posting console forms in tests: sign in, post, read what the page says."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.extensions import db
from tests.factories import UserFactory


def sign_in(auth, role: str = "admin", regions=()):
    user = UserFactory(role=role, regions=list(regions))
    db.session.commit()
    auth.login(user)
    return user


def page_text(response) -> str:
    """The page's HTML with entities decoded, so messages compare as typed."""
    return html.unescape(response.get_data(as_text=True))


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def events(entity: str | None = None, action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def new_id(response) -> int:
    """The id of the row a successful create redirected to (``_continue_editing``)."""
    match = re.search(r"[?&]id=(\d+)", response.headers.get("Location", ""))
    assert match, f"no redirect to the new row: {response.status_code}"
    return int(match.group(1))
