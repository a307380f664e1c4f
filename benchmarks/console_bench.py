"""(5) Console list pages on the large data: SQL statements per page and render time.

The bench app signs in through the real ``/login`` (TOTP switched off for this app only, as the
tests do) with the generator's administrator, then opens each list view that exists for
appointments, referrals, credentials and the audit log at page sizes 20 and 100, and at a deep page.
A request's statements are split into the view's own and the per-request sign-in/session checks
(statements on ``user_account``, ``user_region``, ``console_session``), which are constant.
"""

from __future__ import annotations

import re
from typing import Any

from benchmarks import generate
from benchmarks.common import (
    Results,
    captured_statements,
    explain_summary,
    median_seconds,
    ms,
    slowest,
)

LIST_MODELS = ("Appointment", "Referral", "Credential", "AuditEvent")
AUTH_TABLES = re.compile(r"\b(user_account|user_region|console_session)\b")
MAX_STATEMENTS = 6
MAX_RENDER_SECONDS = 0.3


def bench_app(database_url: str, instance: str) -> Any:
    from opsadmin.app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "benchmark-only-secret-key-0123456789",
            "ENV": "production",
            "INSTANCE_DIR": instance,
            "OPSADMIN_REQUIRE_TOTP": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def list_views(app: Any) -> list[tuple[str, Any]]:
    """(model name, view) of the console's list views over the big tables, in LIST_MODELS order."""
    admin = app.extensions["opsadmin_admin"]
    found = {}
    for view in admin._views:
        model = getattr(getattr(view, "model", None), "__name__", None)
        if model in LIST_MODELS and model not in found:
            found[model] = view
    return [(name, found[name]) for name in LIST_MODELS if name in found]


def _csrf(client: Any, url: str) -> dict[str, str]:
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return {"csrf_token": token.group(1)} if token else {}


def login(client: Any) -> None:
    """Password, then the TOTP step (administrators always have one), as a person would."""
    import pyotp

    data = {"email": generate.BENCH_ADMIN_EMAIL, "password": generate.BENCH_PASSWORD}
    client.post("/login", data={**data, **_csrf(client, "/login")})
    code = pyotp.TOTP(generate.BENCH_TOTP_SECRET).now()
    client.post("/login/totp", data={"code": code, **_csrf(client, "/login/totp")})
    landing = client.get("/admin/")
    if landing.status_code != 200:
        raise RuntimeError(f"benchmark login failed: /admin/ answers {landing.status_code}")


def split_statements(statements: list) -> tuple[list, list]:
    auth = [s for s in statements if AUTH_TABLES.search(s.sql)]
    own = [s for s in statements if not AUTH_TABLES.search(s.sql)]
    return own, auth


def open_page(client: Any, engine: Any, url: str) -> tuple[int, list, list]:
    with captured_statements(engine) as statements:
        response = client.get(url)
    own, auth = split_statements(statements)
    return response.status_code, own, auth


def measure(results: Results, database_url: str, instance: str) -> None:
    from flask import url_for

    from opsadmin.extensions import db

    app = bench_app(database_url, instance)
    views = list_views(app)
    if not views:
        results.notes.append(
            "No console list view over the big tables exists yet: section 5 skipped."
        )
        return
    # https: the production session cookie is Secure (__Host- prefix) and would not be sent over http.
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    login(client)
    with app.app_context():
        for model, view in views:
            with app.test_request_context():
                url = url_for(f"{view.endpoint}.index_view")
            _measure_view(results, client, db.engine, model, url)
    missing = [m for m in LIST_MODELS if m not in dict(views)]
    if missing:
        results.notes.append(f"Console list views not found (not measured): {', '.join(missing)}.")


def _measure_view(results: Results, client: Any, engine: Any, model: str, url: str) -> None:
    counts = {}
    for size in (20, 100):
        page_url = f"{url}?page_size={size}"
        status, own, auth = open_page(client, engine, page_url)
        seconds = median_seconds(lambda u=page_url: client.get(u), repeat=3)
        counts[size] = len(own)
        results.add(
            "5 console lists", f"{model} list, page size {size}",
            f"{len(own)} statements (+{len(auth)} sign-in), {ms(seconds)}",
            f"≤ {MAX_STATEMENTS}, < 300 ms",
            status == 200 and len(own) <= MAX_STATEMENTS and seconds < MAX_RENDER_SECONDS,
            note=f"HTTP {status}",
        )  # fmt: skip
        if size == 100 and engine.dialect.name == "postgresql":
            worst = slowest(own)
            if worst is not None:
                results.explains.append(
                    (f"{model} list, slowest statement", explain_summary(engine, worst))
                )
    results.add("5 console lists", f"{model} list: same count at 20 and 100",
                f"{counts[20]} vs {counts[100]}", "equal", counts[20] == counts[100])  # fmt: skip
    deep_url = f"{url}?page=2000&page_size=20"
    seconds = median_seconds(lambda: client.get(deep_url), repeat=3)
    results.add("5 console lists", f"{model} list, page 2000", ms(seconds), "< 300 ms",
                seconds < MAX_RENDER_SECONDS)  # fmt: skip
