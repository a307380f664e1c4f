"""`opsadmin reports run utilisation|followup --region CODE --week YYYY-Www [--send]`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports.fixtures import WEEK, build_week


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": None, "SMTP_HOST": None}


@pytest.fixture
def site(session):
    site = build_week()
    session.commit()
    return site


def outbox(app) -> list[Path]:
    return sorted(Path(app.config["OPSADMIN_OUTBOX_DIR"]).glob("*.eml"))


def test_without_send_prints_the_report_and_sends_nothing(app, runner, site):
    result = runner.invoke(args=["reports", "run", "utilisation", "--region", "IN", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert "GRN" in result.output and "Utilisation" in result.output
    assert outbox(app) == []


def test_send_twice_never_resends_to_a_lead(app, runner, site, session):
    args = ["reports", "run", "followup", "--region", "IN", "--week", WEEK, "--send"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert len(outbox(app)) == 2
    second = runner.invoke(args=args)
    assert "sent to 0" in second.output
    assert len(outbox(app)) == 2


def test_send_reaches_a_lead_added_since(app, runner, site, session):
    args = ["reports", "run", "utilisation", "--region", "IN", "--week", WEEK, "--send"]
    runner.invoke(args=args)
    site.region.lead_emails = [*site.region.lead_emails, "new-lead@example.org"]
    session.commit()
    result = runner.invoke(args=args)
    assert "sent to 1" in result.output
    assert len(outbox(app)) == 3


def test_unknown_region_fails_cleanly(runner, site):
    result = runner.invoke(args=["reports", "run", "utilisation", "--region", "XX", "--week", WEEK])
    assert result.exit_code == 2
    assert "No region" in result.output
