"""Words for the stored enum values (roles, kinds, indications, statuses, scopes …) and the
status badges: the one table every console page, filter and form reads.

A value missing from the table is shown with its underscores as spaces and a capital, so a new
enum value reads acceptably before someone words it here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from markupsafe import Markup

LABELS: dict[str, str] = {
    # console users and API keys
    "admin": "Administrator",
    "ops_manager": "Operations manager",
    "regional_lead": "Regional lead",
    "read": "Read",
    "write": "Write",
    # staff roles
    "physician": "Physician",
    "crna": "CRNA (nurse anaesthetist)",
    "nurse_practitioner": "Nurse practitioner",
    "registered_nurse": "Registered nurse",
    "medical_assistant": "Medical assistant",
    "coordinator": "Coordinator",
    # credential and registration kinds
    "state_license": "State licence",
    "dea_registration": "DEA registration",
    "state_csr": "State controlled-substance registration",
    "acls": "ACLS",
    "bls": "BLS",
    "board_certification": "Board certification",
    # appointment and room kinds
    "consult": "Consult",
    "infusion": "Infusion",
    "follow_up": "Follow-up",
    "recovery": "Recovery",
    # indications and contraindications
    "migraine": "Migraine",
    "depression": "Depression",
    "chronic_pain": "Chronic pain",
    "other": "Other",
    # statuses
    "booked": "Booked",
    "checked_in": "Checked in",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
    "received": "Received",
    "consult_scheduled": "Consult scheduled",
    "consulted": "Consulted",
    "approved": "Approved",
    "declined": "Declined",
    "treatment_scheduled": "Treatment scheduled",
    "in_treatment": "In treatment",
    "withdrawn": "Withdrawn",
    "started": "Started treatment",
    "pending": "Pending",
    "queued": "Queued",
    "running": "Running",
    "built": "Built",
    "sent": "Sent",
    "sending": "Sending",
    "failed": "Failed",
    "valid": "Valid",
    "expiring": "Expiring",
    "expired": "Expired",
    "unverified": "Unverified",
    # report kinds
    "utilisation": "Utilisation",
    "followup": "Follow-up digest",
    # audit
    "user": "User",
    "api_key": "API key",
    "system": "System",
    "anonymous": "Anonymous",
}

# Bootstrap badge colour per status: green done or fine, amber needs attention soon, red wrong.
BADGES: dict[str, str] = {
    "valid": "success",
    "completed": "success",
    "sent": "success",
    "approved": "success",
    "expiring": "warning",
    "unverified": "secondary",
    "expired": "danger",
    "failed": "danger",
    "declined": "danger",
    "no_show": "danger",
    "cancelled": "secondary",
    "withdrawn": "secondary",
    "booked": "primary",
    "checked_in": "info",
    "in_treatment": "info",
    "treatment_scheduled": "info",
    "consult_scheduled": "info",
    "running": "info",
    "queued": "info",
    "built": "info",
    "sending": "info",
    "pending": "light",
    "received": "light",
    "consulted": "primary",
}


# Words that column names spell in lower case but people write in capitals.
ACRONYMS = {"Id": "ID", "Ip": "IP", "Npi": "NPI", "Dea": "DEA", "Csr": "CSR", "Api": "API"}
ACRONYMS |= {"Totp": "TOTP", "Url": "URL", "Csv": "CSV", "Html": "HTML", "Utc": "UTC"}


def heading(name: str) -> str:
    """A column or field name as a heading, flask-admin's title case with the acronyms in
    capitals: ``entity_id`` → ``Entity ID``, ``ip`` → ``IP``."""
    words = name.replace(".", " ").replace("_", " ").split()
    return " ".join(ACRONYMS.get(word.capitalize(), word.capitalize()) for word in words)


def label(value: Any) -> str:
    """The words for a stored value (``registered_nurse`` → ``Registered nurse``)."""
    if value is None:
        return ""
    text = str(value)
    if text in LABELS:
        return LABELS[text]
    words = text.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def labels(values: Iterable[Any]) -> str:
    """A list of stored values (API key scopes, contraindications) as one line of words."""
    return ", ".join(label(value) for value in values)


def choices(values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, words) pairs for a select or a filter."""
    return [(value, label(value)) for value in values]


def badge(status: Any) -> Markup:
    """A status as a coloured badge; the value itself stays in ``data-status`` for scripts and tests."""
    if status is None:
        return Markup("")
    colour = BADGES.get(str(status), "secondary")
    return Markup('<span class="badge badge-{} status-badge" data-status="{}">{}</span>').format(
        colour, status, label(status)
    )
