"""Console login: the user loader and the login/logout pages (hardened in the console issue)."""

from __future__ import annotations

from flask import Flask

from opsadmin.auth.models import User
from opsadmin.extensions import db, login_manager


def init_console_auth(app: Flask) -> None:
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None
