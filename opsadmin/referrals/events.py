"""What a referral's move means to the event feed: ``referral.status_changed``.

Every move is a new ReferralEvent row, whichever surface made it; its creation (no ``from``) is
not a change of status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from opsadmin.events.service import watch
from opsadmin.referrals.models import ReferralEvent


def describe_move(
    session: Session, move: ReferralEvent, change: str
) -> Iterable[tuple[str, dict[str, Any]]]:
    if change != "create" or move.from_status is None:
        return []
    at = move.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    data = {"referral_id": move.referral_id, "from": move.from_status, "to": move.to_status}
    return [("referral.status_changed", data | {"at": at})]


def watch_changes() -> None:
    watch(ReferralEvent, describe_move)
