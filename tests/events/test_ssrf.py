"""Webhook URLs that would make the server call itself or its network are refused (422)."""

from __future__ import annotations

import pytest

UNSAFE = [
    "https://127.0.0.1/hook",
    "https://10.0.0.8/hook",
    "https://10.255.1.2:8443/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://localhost/hook",
    "http://example.com/hook",
    "ftp://example.com/hook",
    "https://user:pw@example.com/hook",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_unsafe_webhook_url_is_refused(client, api_headers, url):
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": ["appointment.created"]},
        headers=api_headers("admin"),
    )
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert "url" in response.get_json()["errors"]


def test_http_and_private_allowed_only_when_configured(app, client, api_headers):
    headers = api_headers("admin")
    body = {"url": "http://127.0.0.1:9/hook", "events": ["appointment.created"]}
    app.config["OPSADMIN_WEBHOOK_ALLOW_HTTP"] = True
    assert client.post("/api/v1/webhooks", json=body, headers=headers).status_code == 422
    app.config["OPSADMIN_WEBHOOK_ALLOW_PRIVATE"] = True
    assert client.post("/api/v1/webhooks", json=body, headers=headers).status_code == 201
