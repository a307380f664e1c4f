"""factory-boy factories: a test states only the fields it is about.

Defaults build a coherent Indiana site (GRN-like, open Mon–Sat 08:00–18:00 local, valid DEA
registration) so a booking test needs to say only what makes it different.
"""

from __future__ import annotations

import datetime as dt

import factory
from factory.alchemy import SQLAlchemyModelFactory

from opsadmin import models as m
from opsadmin.auth.passwords import hash_password
from opsadmin.extensions import db
from opsadmin.locations.licensing import CSR_STATES

TODAY = dt.date.today()
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = None


def _password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class RegionFactory(Base):
    class Meta:
        model = m.Region
        sqlalchemy_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n}")
    name = factory.LazyAttribute(lambda o: f"Region {o.code}")
    lead_emails = factory.LazyAttribute(lambda o: [f"lead-{o.code.lower()}@example.org"])


class LocationFactory(Base):
    class Meta:
        model = m.Location

    code = factory.Sequence(lambda n: f"L{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Clinic {o.code}")
    region = factory.SubFactory(RegionFactory, code="IN", name="Indiana")
    address_line1 = "1 Main St"
    city = "Greencastle"
    state = "IN"
    postal_code = "46135"
    timezone = "America/Indiana/Indianapolis"
    phone = "+1 765 555 0100"
    active = True

    @factory.post_generation
    def hours(obj, create, extracted, **kwargs):
        """hours=[(weekday, "08:00", "18:00"), ...]; default Mon–Sat 08:00–18:00."""
        spec = extracted if extracted is not None else [(d, "08:00", "18:00") for d in range(6)]
        for weekday, opens, closes in spec:
            obj.opening_hours.append(
                m.OpeningHours(
                    weekday=weekday,
                    opens=dt.time.fromisoformat(opens),
                    closes=dt.time.fromisoformat(closes),
                )
            )

    @factory.post_generation
    def dea(obj, create, extracted, **kwargs):
        """dea=False for a site with no DEA registration; dea=date for one expiring then."""
        if extracted is False:
            return
        expires = extracted if isinstance(extracted, dt.date) else TODAY + dt.timedelta(days=700)
        obj.registrations.append(
            m.SiteRegistration(
                kind="dea_registration",
                number=f"F{obj.code}{obj.state}0001",
                state=obj.state,
                expires_on=expires,
            )
        )

    @factory.post_generation
    def csr(obj, create, extracted, **kwargs):
        """The state CSR of a state that requires one (Indiana, Illinois); csr=False for none,
        csr=date for one expiring then."""
        if extracted is False or obj.state not in CSR_STATES:
            return
        expires = extracted if isinstance(extracted, dt.date) else TODAY + dt.timedelta(days=700)
        obj.registrations.append(
            m.SiteRegistration(
                kind="state_csr",
                number=f"C{obj.code}{obj.state}0001",
                state=obj.state,
                expires_on=expires,
            )
        )


class RoomFactory(Base):
    class Meta:
        model = m.Room

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    kind = "infusion"
    capacity = 2
    active = True


class StaffFactory(Base):
    class Meta:
        model = m.StaffMember

    name = factory.Sequence(lambda n: f"Dr Staff {n}")
    email = factory.Sequence(lambda n: f"staff{n}@clinic.example.org")
    role = "physician"
    active = True

    @factory.post_generation
    def locations(obj, create, extracted, **kwargs):
        for location in extracted or []:
            obj.locations.append(location)


class CredentialFactory(Base):
    class Meta:
        model = m.Credential

    staff = factory.SubFactory(StaffFactory)
    kind = "state_license"
    number = factory.Sequence(lambda n: f"LIC{n:06d}")
    state = "IN"
    issued_on = TODAY - dt.timedelta(days=365)
    expires_on = TODAY + dt.timedelta(days=700)
    verified_on = TODAY - dt.timedelta(days=300)
    verified_by = "credentialing@clinic.example.org"


def licensed_clinician(locations, states=("IN",), role="physician", **kwargs) -> m.StaffMember:
    """A clinician holding verified license, DEA and ACLS for each state: eligible for everything."""
    staff = StaffFactory(role=role, locations=list(locations), **kwargs)
    for state in states:
        CredentialFactory(staff=staff, kind="state_license", state=state)
        CredentialFactory(staff=staff, kind="dea_registration", state=state)
    CredentialFactory(staff=staff, kind="acls", state=None)
    CredentialFactory(staff=staff, kind="bls", state=None)
    return staff


class ReferralFactory(Base):
    class Meta:
        model = m.Referral

    patient_ref = factory.Sequence(lambda n: f"P-{20000 + n}")
    indication = "migraine"
    referring_provider_name = "Dr Neuro Logist"
    referring_provider_npi = "1234567893"
    referring_provider_practice = "Putnam Neurology"
    received_on = TODAY - dt.timedelta(days=3)
    consult_location = factory.SubFactory(LocationFactory)
    treatment_location = factory.SelfAttribute("consult_location")
    planned_sessions = 6
    status = "received"


class AppointmentFactory(Base):
    class Meta:
        model = m.Appointment

    external_id = factory.Sequence(lambda n: f"BK-{1000 + n}")
    room = factory.SubFactory(RoomFactory)
    location = factory.SelfAttribute("room.location")
    staff = factory.SubFactory(StaffFactory)
    kind = "infusion"
    indication = "migraine"
    patient_ref = factory.Sequence(lambda n: f"P-{30000 + n}")
    starts_at = factory.LazyFunction(
        lambda: dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(15, 0), dt.UTC)
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(hours=2))
    status = "booked"


class UserFactory(Base):
    class Meta:
        model = m.User

    email = factory.Sequence(lambda n: f"user{n}@ops.example.org")
    password_hash = factory.LazyFunction(_password_hash)
    role = "ops_manager"
    active = True

    @factory.post_generation
    def regions(obj, create, extracted, **kwargs):
        for region in extracted or []:
            obj.regions.append(region)
