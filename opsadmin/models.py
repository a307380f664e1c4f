"""Every feature's models in one import, for Alembic and the shell. Defines nothing."""

from opsadmin.audit.models import AuditEvent
from opsadmin.auth.models import (
    ApiKey,
    ConsoleSession,
    IdempotencyRecord,
    LoginFailure,
    User,
    user_region,
)
from opsadmin.bookings.models import Appointment, AppointmentRisk
from opsadmin.events.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from opsadmin.locations.models import (
    Location,
    LocationClosure,
    OpeningHours,
    Region,
    SiteRegistration,
    SiteRule,
)
from opsadmin.master_cache import CacheVersion
from opsadmin.referrals.models import Referral, ReferralEvent, Screening
from opsadmin.reports.models import ReportDelivery, ReportRun
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.models import Credential, CredentialRule, StaffMember, staff_location

__all__ = [
    "ApiKey",
    "Appointment",
    "AppointmentRisk",
    "AuditEvent",
    "CacheVersion",
    "ConsoleSession",
    "Credential",
    "CredentialRule",
    "Event",
    "IdempotencyRecord",
    "Location",
    "LocationClosure",
    "LoginFailure",
    "OpeningHours",
    "Referral",
    "ReferralEvent",
    "Region",
    "ReportDelivery",
    "ReportRun",
    "Room",
    "RoomClosure",
    "Screening",
    "SiteRegistration",
    "SiteRule",
    "StaffMember",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "staff_location",
    "user_region",
]
