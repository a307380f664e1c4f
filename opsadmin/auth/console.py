"""Console login: password, then TOTP (or its enrolment), server-side sessions, logout.

Flow: ``POST /login`` with a correct password answers 303 to ``/login/totp`` or, for a
user with no authenticator yet, to ``/login/totp/enrol``; when TOTP is not required for the user
the password alone signs in. Every failure answers the same page, status and (argon2 on a dummy
hash) roughly the same time; the 11th failure in the window, per account or per address, is 429.

The session cookie carries a random token; each request re-checks its ConsoleSession row (idle and
absolute timeouts, revocation, user disabled, password changed), so a revoked cookie is dead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from opsadmin.audit import service as audit
from opsadmin.auth import sessions
from opsadmin.auth.models import User
from opsadmin.auth.passwords import hash_password, needs_rehash, verify_password
from opsadmin.config import setting
from opsadmin.extensions import db, login_manager

bp = Blueprint("auth", __name__)

TOKEN_KEY = "console_token"
NEXT_KEY = "login_next"
FAILED_MESSAGE = "Wrong e-mail or password."
THROTTLED_MESSAGE = "Too many failed sign-in attempts. Wait a few minutes and try again."


@dataclass(frozen=True)
class SessionInfo:
    """What the request knows about its live console session (plain values, no ORM row)."""

    id: int
    user_id: int
    totp_verified: bool


def init_console_auth(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    # Our own server-side sessions replace flask-login's identifier checks.
    login_manager.session_protection = None
    _cookie_flags(app)
    app.register_blueprint(bp)
    app.before_request(_load_console_session)
    app.teardown_request(_reset_actor)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        info: SessionInfo | None = g.get("console_session")
        if info is None or str(info.user_id) != user_id:
            return None
        user = db.session.get(User, info.user_id)
        return user if user is not None and user.active else None


def _cookie_flags(app: Flask) -> None:
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if app.config["ENV"] not in ("development", "test") and not app.config.get("TESTING"):
        app.config["SESSION_COOKIE_SECURE"] = True
        # __Host- pins the cookie to this host and path "/", Secure only (ASVS 3.3.1).
        app.config["SESSION_COOKIE_NAME"] = "__Host-opsadmin"
        app.config["SESSION_COOKIE_PATH"] = "/"
        app.config["SESSION_COOKIE_DOMAIN"] = None


def _policy() -> sessions.SessionPolicy:
    return sessions.SessionPolicy.from_config(current_app.config)


def client_ip() -> str:
    return (request.remote_addr or "")[:64]


# -- per-request session check -------------------------------------------------------------------
def _is_console_request() -> bool:
    endpoint = request.endpoint or ""
    return not request.path.startswith("/api/") and not endpoint.endswith("static")


def _load_console_session() -> None:
    g.console_session = None
    # flask-login caches the user on g, which outlives a request when an app context was
    # already pushed (tests, CLI): the user must come from this request's session check.
    g.pop("_login_user", None)
    if not _is_console_request():
        return
    token = session.get(TOKEN_KEY)
    row = sessions.find_live_session(db.session, token, _policy())
    if row is None:
        if token or "_user_id" in session:
            _forget_browser_session()
    else:
        sessions.touch(row)
        g.console_session = SessionInfo(row.id, row.user_id, row.totp_verified)
        user = row.user
        g.actor_token = audit.set_actor(audit.Actor("user", user.id, user.email, client_ip()))
    # End the transaction here: a view that must open its own (BEGIN IMMEDIATE) can.
    db.session.commit()


def _reset_actor(exc: BaseException | None = None) -> None:
    token = g.pop("actor_token", None)
    if token is not None:
        audit._current_actor.reset(token)


def _forget_browser_session() -> None:
    session.pop(TOKEN_KEY, None)
    session.pop("_user_id", None)
    session.pop("_fresh", None)
    session.pop(NEXT_KEY, None)


def _totp_for_all() -> bool:
    return bool(setting("OPSADMIN_REQUIRE_TOTP"))


def session_fully_authenticated() -> bool:
    """True when the signed-in user has passed every login step (password, then TOTP)."""
    info: SessionInfo | None = g.get("console_session")
    if info is None or not current_user.is_authenticated:
        return False
    return pending_login_step() is None


def pending_login_step() -> str | None:
    """The URL of the login step the signed-in user still has to pass, or None."""
    info: SessionInfo | None = g.get("console_session")
    if info is None or not current_user.is_authenticated or info.totp_verified:
        return None
    if not sessions.totp_required(current_user, _totp_for_all()):
        return None
    if current_user.totp_enabled:
        return url_for("auth.totp")
    return url_for("auth.totp_enrol")


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything that could leave the site becomes /admin/."""
    default = url_for("admin.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    # Browsers read "\" as "/" ("/\evil" is "//evil") and drop control characters.
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# -- pages ---------------------------------------------------------------------------------------
def _login_page(error: str | None = None, status: int = 200) -> Response:
    response = current_app.make_response((render_template("auth/login.html", error=error), status))
    if status == 429:
        response.headers["Retry-After"] = str(int(setting("OPSADMIN_LOGIN_WINDOW_MINUTES")) * 60)
    return response


def _throttled(email: str) -> bool:
    limit = setting("OPSADMIN_LOGIN_MAX_FAILURES")
    return sessions.too_many_failures(
        db.session,
        email,
        client_ip(),
        limit=limit,
        ip_limit=setting("OPSADMIN_LOGIN_MAX_FAILURES_PER_IP", limit),
        window=dt.timedelta(minutes=setting("OPSADMIN_LOGIN_WINDOW_MINUTES")),
    )


def _fail(email: str, user: User | None, detail: str) -> None:
    sessions.record_failure(db.session, email, client_ip())
    audit.record(
        db.session,
        "login_failed",
        entity="User",
        entity_id=user.id if user else "",
        detail=detail,
        actor=audit.Actor("anonymous", None, email[:200], client_ip()),
    )
    db.session.commit()


def _refuse_throttled(email: str, user: User | None) -> Response:
    audit.record(
        db.session,
        "login_failed",
        entity="User",
        entity_id=user.id if user else "",
        detail="throttled",
        actor=audit.Actor("anonymous", None, email[:200], client_ip()),
    )
    db.session.commit()
    return _login_page(THROTTLED_MESSAGE, 429)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        # Shown even to a signed-in user: signing in again (as someone else) rotates the session.
        return _login_page()
    email = (request.form.get("email") or "").strip().lower()[:254]
    password = request.form.get("password") or ""
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if _throttled(email):
        return _refuse_throttled(email, user)
    # Always verify (a dummy hash for an unknown user) so both failures cost the same time.
    password_ok = verify_password(user.password_hash if user else None, password)
    if not password_ok or user is None or not user.active:
        _fail(email, user, "password")
        return _login_page(FAILED_MESSAGE)
    return _password_accepted(user, password)


def _password_accepted(user: User, password: str) -> Response:
    if needs_rehash(user.password_hash):
        # A hash made with older parameters is upgraded while we hold the plaintext.
        user.password_hash = hash_password(password)
    sessions.clear_account_failures(db.session, user.email)
    target = safe_next(request.args.get("next"))
    needs_totp = sessions.totp_required(user, _totp_for_all())
    _rotate_session(user, totp_verified=not needs_totp)
    if not needs_totp:
        return _complete_login(user, target, "password")
    session[NEXT_KEY] = target
    audit.record(
        db.session,
        "login_password_ok",
        entity="User",
        entity_id=user.id,
        detail="password accepted; TOTP pending",
        actor=audit.Actor("user", user.id, user.email, client_ip()),
    )
    db.session.commit()
    step = "auth.totp" if user.totp_enabled else "auth.totp_enrol"
    return redirect(url_for(step), code=303)


def _rotate_session(user: User, *, totp_verified: bool) -> None:
    """A new session id at every privilege change; the previous one is revoked (ASVS 7.2.4)."""
    sessions.revoke_session(db.session, session.get(TOKEN_KEY))
    session.clear()
    row, token = sessions.start_session(db.session, user, client_ip(), totp_verified=totp_verified)
    session[TOKEN_KEY] = token
    login_user(user)
    g.console_session = SessionInfo(row.id, user.id, totp_verified)


def _complete_login(user: User, target: str, detail: str) -> Response:
    user.last_login_at = sessions.now()
    audit.record(
        db.session,
        "login",
        entity="User",
        entity_id=user.id,
        detail=detail,
        actor=audit.Actor("user", user.id, user.email, client_ip()),
    )
    db.session.commit()
    return redirect(target, code=303)


def _pending_user() -> User | None:
    """The user who passed the password step of this browser session and still owes TOTP."""
    info: SessionInfo | None = g.get("console_session")
    if info is None or info.totp_verified or not current_user.is_authenticated:
        return None
    return current_user._get_current_object()


@bp.route("/login/totp", methods=["GET", "POST"])
def totp():
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"), code=303)
    if not user.totp_enabled:
        return redirect(url_for("auth.totp_enrol"), code=303)
    if request.method == "GET":
        return render_template("auth/console_totp.html", error=None)
    if _throttled(user.email):
        return _refuse_throttled(user.email, user)
    if not sessions.verify_totp(user, request.form.get("code") or ""):
        _fail(user.email, user, "totp")
        return render_template("auth/console_totp.html", error="That code is not valid.")
    target = session.pop(NEXT_KEY, None) or url_for("admin.index")
    _rotate_session(user, totp_verified=True)
    return _complete_login(user, target, "password+totp")


@bp.route("/login/totp/enrol", methods=["GET", "POST"])
def totp_enrol():
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"), code=303)
    if user.totp_enabled:
        return redirect(url_for("auth.totp"), code=303)
    error = None
    if request.method == "POST":
        if _throttled(user.email):
            return _refuse_throttled(user.email, user)
        if sessions.verify_totp(user, request.form.get("code") or ""):
            user.totp_enabled = True
            user.totp_enrol_required = False
            audit.record(db.session, "totp_enrolled", entity="User", entity_id=user.id)
            target = session.pop(NEXT_KEY, None) or url_for("admin.index")
            _rotate_session(user, totp_verified=True)
            return _complete_login(user, target, "password+totp enrolment")
        _fail(user.email, user, "totp enrolment")
        error = "That code is not valid. Check the time on your phone and try again."
    return _enrolment_page(user, error)


def _enrolment_page(user: User, error: str | None) -> str:
    import segno

    uri = sessions.provisioning_uri(user)
    db.session.commit()  # keep the secret stable across reloads until it is confirmed
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, dark="#212529")
    return render_template(
        "auth/console_totp_enrol.html", qr_data_uri=qr, secret=user.totp_secret, error=error
    )


@bp.route("/logout", methods=["POST"])
def logout():
    info: SessionInfo | None = g.get("console_session")
    if info is not None:
        sessions.revoke_session(db.session, session.get(TOKEN_KEY))
        audit.record(db.session, "logout", entity="User", entity_id=info.user_id)
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)
