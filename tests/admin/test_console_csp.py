"""Zero CSP violations: no console page carries an inline event handler or a javascript: URL that
would run code (the CSP runs only nonce'd or same-origin scripts; the browser journeys check the
browser's console too), and the favicon is served locally."""

from __future__ import annotations

import re

from opsadmin.extensions import db
from tests.console_matrix import console_endpoints
from tests.factories import (
    AppointmentFactory,
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RoomFactory,
    UserFactory,
)

INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
# flask-admin's tabs, pager and menu toggles link to "javascript:void(0)", which console.js
# stops before the browser would refuse it; any other javascript: URL would run code.
JAVASCRIPT_URL = re.compile(
    r"""(?:href|src|action)\s*=\s*["']?\s*javascript:(?!void\(0\)["'])""", re.IGNORECASE
)


def test_no_console_page_has_inline_handlers_or_javascript_urls(app, client, auth, session):
    location = LocationFactory(code="GRN")
    room = RoomFactory(location=location)
    AppointmentFactory(room=room)
    CredentialFactory()
    ReferralFactory(consult_location=location)
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)
    pages = [
        e.url + ("?id=1" if e.kind in ("edit_view", "details_view") else "")
        for e in console_endpoints(app)
        if "GET" in e.methods and e.kind in ("index_view", "index", "create_view", "edit_view",
                                              "details_view")
    ]  # fmt: skip
    checked = []
    for url in pages:
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.content_type:
            continue
        checked.append(url)
        assert not INLINE_HANDLER.search(response.text), (
            url,
            INLINE_HANDLER.findall(response.text),
        )
        assert not JAVASCRIPT_URL.search(response.text), url
    assert "/admin/locations/new/" in checked and "/admin/staff/new/" in checked
    assert "/admin/board/" in checked and len(checked) > 20


def test_favicon_is_served_locally(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "<svg" in response.text
