"""Words for the codes the reports show (stages, credential kinds, statuses)."""

from __future__ import annotations

LABELS = {
    # referral stages, as a stalled referral waits in them
    "received": "received, no consult yet",
    "consult_scheduled": "consult scheduled",
    "consulted": "consulted, no decision",
    "approved": "approved, no first infusion",
    "treatment_scheduled": "treatment scheduled",
    "in_treatment": "in treatment, no session booked",
    # credentials and registrations
    "state_license": "state license",
    "dea_registration": "DEA registration",
    "state_csr": "state CSR",
    "acls": "ACLS",
    "bls": "BLS",
    "board_certification": "board certification",
    # statuses
    "expiring": "expiring",
    "expired": "expired",
}


def label(code: str | None) -> str:
    """The words for ``code`` (the code with spaces when it has none)."""
    if not code:
        return ""
    return LABELS.get(code, code.replace("_", " "))


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 chair``, ``3 chairs``."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def days_ago(days: int) -> str:
    """A credential's days left as words: "in 20 days", "today", "3 days ago"."""
    if days == 0:
        return "today"
    if days > 0:
        return f"in {plural(days, 'day')}"
    return f"{plural(-days, 'day')} ago"
