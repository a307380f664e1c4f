"""The referral state machine, screening, and the moves appointments drive (DESIGN §4).

The booking service calls :func:`check_referral_allows` before it books, and
:func:`appointment_changed` after it creates or changes an appointment linked to a referral.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from opsadmin.referrals.models import Referral


def check_referral_allows(session: Session, referral: Referral, kind: str) -> None:
    """Raise Conflict(code=referral_not_approved) when ``kind`` may not be booked for ``referral``.

    An infusion needs the referral approved (or further along the treatment path).
    """


def appointment_changed(
    session: Session, appointment, previous_status: str | None, previous_kind: str | None = None
) -> None:
    """Move the appointment's referral as DESIGN §4 says (previous_status None = newly created).

    Booking a consult → consult_scheduled; completing it → consulted; booking the first infusion
    → treatment_scheduled; completing it → in_treatment; completing the planned number →
    completed (follow-up due set); cancelling the consult → back to received.
    """
