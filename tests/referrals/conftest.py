"""A two-site chain for referral journeys: consult in Greencastle (GRN), infusions in Indianapolis (IND)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from opsadmin.staff.service import ensure_default_rules
from tests.factories import LocationFactory, RoomFactory, licensed_clinician

EVERY_DAY = [(d, "08:00", "18:00") for d in range(7)]
NPI = "1234567893"


def referral_body(**overrides) -> dict:
    body = {
        "patient_ref": "P-20931",
        "indication": "migraine",
        "referring_provider": {
            "name": "Dr Neuro Logist",
            "npi": NPI,
            "practice": "Putnam Neurology",
        },
        "received_on": (dt.date.today() - dt.timedelta(days=30)).isoformat(),
        "consult_location": "GRN",
        "treatment_location": "IND",
        "planned_sessions": 6,
    }
    body.update(overrides)
    return body


@dataclass
class Chain:
    grn: object
    ind: object
    consult_room: object
    infusion_room: object
    clinician: object
    physician: object


@pytest.fixture
def chain(session) -> Chain:
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN", hours=EVERY_DAY)
    ind = LocationFactory(code="IND", city="Indianapolis", hours=EVERY_DAY)
    chain = Chain(
        grn=grn,
        ind=ind,
        consult_room=RoomFactory(location=grn, name="Consult", kind="consult", capacity=1),
        infusion_room=RoomFactory(location=ind, name="Infusion", kind="infusion", capacity=4),
        clinician=licensed_clinician([grn, ind]),
        # Licensed in Indiana and working at GRN: may decide the consults there.
        physician=licensed_clinician([grn], role="physician", name="Dr Decides"),
    )
    session.commit()
    return chain
