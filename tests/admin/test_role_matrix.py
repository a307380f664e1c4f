"""Issue 6 acceptance 2: every console endpoint for every role, and another region's rows by
``?id=``, export and list for every scoped view (the table lives in tests/console_matrix.py)."""

from __future__ import annotations

import csv
import io

import pytest

from opsadmin.console import SecureModelView
from opsadmin.extensions import db
from tests.console_matrix import violations
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
    StaffFactory,
    UserFactory,
)


@pytest.fixture
def regions():
    """Region A and region B, each with a site, a room, staff with a credential, a referral."""
    made = {}
    for code in ("A", "B"):
        region = RegionFactory(code=code)
        site = LocationFactory(code=f"S{code}", region=region)
        RoomFactory(location=site)
        CredentialFactory(staff=StaffFactory(locations=[site]))
        ReferralFactory(consult_location=site)
        made[code] = region
    db.session.commit()
    return made


@pytest.mark.parametrize("role", ["admin", "ops_manager", "ops_manager_no_region", "regional_lead"])
def test_every_console_endpoint_answers_each_role_as_declared(app, client, auth, regions, role):
    user_role = "ops_manager" if role.startswith("ops_manager") else role
    user_regions = [] if role in ("admin", "ops_manager_no_region") else [regions["A"]]
    auth.login(UserFactory(role=user_role, regions=user_regions))
    assert violations(client, app, role) == []


def scoped_views(app):
    return [
        v
        for v in app.extensions["opsadmin_admin"]._views
        if isinstance(v, SecureModelView) and v.allowed_roles != ("admin",)
    ]


def hidden_ids(view, region_ids):
    """Ids of ``view``'s rows outside ``region_ids`` (computed with the view's own scope)."""
    pk = view.model.__mapper__.primary_key[0]
    every = {row[0] for row in db.session.query(pk)}
    scoped = {
        row[0] for row in view.scope_query(db.session.query(pk).select_from(view.model), region_ids)
    }
    return every - scoped


@pytest.mark.parametrize("role", ["ops_manager", "regional_lead"])
def test_other_regions_rows_refused_by_id_and_absent_from_exports(app, client, auth, regions, role):
    auth.login(UserFactory(role=role, regions=[regions["A"]]))
    checked = 0
    for view in scoped_views(app):
        base = f"/admin/{view.url.strip('/').split('/')[-1]}"
        hidden = hidden_ids(view, {regions["A"].id})
        for row_id in hidden:
            for page in ("details", "edit"):
                response = client.get(f"{base}/{page}/?id={row_id}")
                assert response.status_code in (302, 403, 404), (base, page, row_id)
            checked += 1
        if view.can_export and hidden:
            exported = client.get(f"{base}/export/csv/")
            assert exported.status_code == 200, base
            rows = list(csv.reader(io.StringIO(exported.text)))[1:]
            visible = db.session.query(view.model).count() - len(hidden)
            assert len(rows) == visible, base
    assert checked >= 5
