"""Security headers, CSP nonces and CSRF for every console response (CHECKLISTS SEC-HDR/CSRF).

The console's own scripts carry a per-request nonce (flask-admin's ``csp_nonce_generator``); no
inline script runs without it. The JSON API (``/api/``) authenticates with Bearer keys, never a
cookie, so it is exempt from CSRF; it still gets nosniff, HSTS and no-store.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request

from opsadmin.extensions import csrf

API_PREFIX = "/api/"
HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """This request's nonce (one per request, shared by every script tag of the page)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            # flask-admin and select2 set inline styles; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            # Charts and the TOTP QR code are inline data: images; nothing is fetched elsewhere.
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_security(app: Flask) -> None:
    """Install the CSRF check (console only) and the response headers."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    # CSRFProtect's own hook would also guard the API; ours skips /api/ and checks the rest.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_fresh_request_globals)
    app.before_request(_protect_console_forms)
    app.after_request(_security_headers)


def _fresh_request_globals() -> None:
    """Forget a nonce or CSRF token cached on ``g`` by an earlier request.

    Each production request has its own app context, but a request made while an app context is
    already pushed (tests, the CLI) shares it, and a cached token would never reach the session.
    """
    g.pop("csp_nonce", None)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _protect_console_forms() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.path.startswith(API_PREFIX):
        return
    csrf.protect()


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["ENV"] not in ("development", "test") and not current_app.testing:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith(API_PREFIX):
        headers.setdefault("Cache-Control", "no-store")
        return response
    if not (request.endpoint or "").endswith("static"):
        # Console pages show patient-linked data: never stored by the browser or a proxy.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response
