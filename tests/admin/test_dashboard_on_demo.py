"""Issue 14, acceptance 2 on the demo chain (where "received: 4" used to open a list of 5): every
figure on the dashboard is the number of rows of the list it opens, for an administrator and for
the demo's operations manager."""

from __future__ import annotations

import pytest

from tests.admin.test_dashboard_figures import figures, listed_rows
from tests.factories import UserFactory
from tests.test_demo import app, seeded  # noqa: F401  (the seeded demo chain, once per module)


@pytest.mark.parametrize("role", ["admin", "ops_manager"])
def test_demo_dashboard_figures_equal_their_lists(client, auth, role):
    from opsadmin.extensions import db
    from opsadmin.locations.models import Region

    regions = list(db.session.scalars(db.select(Region))) if role == "ops_manager" else []
    user = UserFactory(role=role, regions=regions[:1])
    db.session.commit()
    auth.login(user)
    shown = figures(client.get("/admin/").text)
    assert len(shown) >= 13 and sum(count for _key, _href, count in shown) > 0
    for key, href, count in shown:
        assert len(listed_rows(client, href)) == count, (key, href)
