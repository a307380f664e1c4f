"""Console views of the auth feature: users and API keys (administrators only).

The secured base views they derive from are :mod:`opsadmin.console`.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, request
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_login import current_user
from wtforms import fields, validators

from opsadmin.console import ConsoleSecureForm, SecureModelView
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.labels import choices, labels


class UserView(SecureModelView):
    """Console users: role, regions, active; passwords through the service's rules."""

    allowed_roles = ("admin",)
    write_roles = ("admin",)
    can_delete = False  # disable instead: the audit log keeps pointing at the account
    can_export = False
    column_list = (
        "email",
        "role",
        "regions",
        "active",
        "totp_enabled",
        "last_login_at",
        "created_at",
    )
    column_searchable_list = ("email",)
    column_filters = ("role", "active")
    column_labels = {"email": "E-mail", "totp_enabled": "Two-factor set up"}
    column_details_exclude_list = ("password_hash", "totp_secret", "totp_last_step")
    form_columns = ("email", "role", "regions", "active", "password")
    form_extra_fields = {
        "password": fields.PasswordField(
            "Password",
            description="At least 12 characters. On edit, leave empty to keep the current password.",
            validators=[validators.Optional()],
        )
    }

    def create_model(self, form: Any):
        from opsadmin.auth.service import create_user

        try:
            if not form.password.data:
                raise _invalid("A new user needs a password.")
            user = create_user(
                db.session,
                form.email.data or "",
                form.password.data,
                form.role.data,
                [region.code for region in form.regions.data or []],
            )
            user.active = bool(form.active.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return False
        self.after_model_change(form, user, True)
        return user

    def update_model(self, form: Any, model: Any) -> bool:
        from opsadmin.auth import sessions
        from opsadmin.auth.service import valid_email

        if model.id == current_user.id and (not form.active.data or form.role.data != "admin"):
            flash("You cannot disable yourself or drop your own administrator role.", "error")
            return False
        was_active = model.active
        password = form.password.data
        del form.password  # never copied onto the model as-is
        try:
            form.populate_obj(model)
            model.email = valid_email(model.email)
            if password:
                sessions.change_password(db.session, model, password)
            if was_active and not model.active:
                sessions.revoke_user_sessions(db.session, model.id)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return False
        return True

    @action(
        "reset_totp",
        "Reset two-factor",
        "Reset two-factor for the selected users? Their sessions end and they enrol a new "
        "authenticator at next sign-in.",
    )
    def action_reset_totp(self, ids: list[Any]) -> None:
        from opsadmin.auth import sessions

        users = self.rows_for_action(ids)
        for user in users:
            sessions.reset_totp(db.session, user)
        db.session.commit()
        flash(f"Two-factor reset for {len(users)} user(s).", "success")


def _invalid(message: str) -> DomainError:
    from opsadmin.errors import InvalidInput

    return InvalidInput(message)


class ApiKeyForm(ConsoleSecureForm):
    name = fields.StringField(
        "Name", validators=[validators.InputRequired(), validators.Length(max=120)]
    )
    scopes = fields.SelectMultipleField(
        "Scopes",
        choices=choices(("read", "write", "admin")),
        validators=[validators.InputRequired()],
    )


class ApiKeyView(SecureModelView):
    """Integrations' keys: created here (shown once), revoked here; only the prefix afterwards."""

    allowed_roles = ("admin",)
    write_roles = ("admin",)
    can_edit = False
    can_delete = False
    can_export = False
    can_view_details = False
    column_list = (
        "name",
        "prefix",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    column_exclude_list = ("digest",)
    column_searchable_list = ("name", "prefix")
    column_formatters = {"scopes": lambda view, context, model, name: labels(model.scopes)}

    def scaffold_form(self):
        return ApiKeyForm

    def create_model(self, form: Any):
        from opsadmin.auth.service import create_api_key

        try:
            key, plaintext = create_api_key(
                db.session,
                form.name.data or "",
                list(form.scopes.data or []),
                created_by=current_user.email,
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return False
        g.new_api_key_plaintext = plaintext
        return key

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """On success, show the key on this response only (never flashed into the cookie)."""
        if request.method != "POST":
            return super().create_view()
        form = self.create_form()
        if self.validate_form(form) and self.create_model(form):
            return self.render(
                "admin/console_apikey_created.html", plaintext=g.pop("new_api_key_plaintext")
            )
        return self.render(
            self.create_template,
            form=form,
            form_opts=self._create_form_opts(),
            return_url=self.get_url(".index_view"),
        )

    def _create_form_opts(self):
        from flask_admin.form import FormOpts

        return FormOpts(widget_args=self.form_widget_args, form_rules=self._form_create_rules)

    @action(
        "revoke", "Revoke", "Revoke the selected keys? Integrations using them get 401 at once."
    )
    def action_revoke(self, ids: list[Any]) -> None:
        from opsadmin.auth.service import revoke_api_key

        keys = self.rows_for_action(ids)
        for key in keys:
            revoke_api_key(db.session, key.id)
        db.session.commit()
        flash(f"Revoked {len(keys)} key(s).", "success")


def admin_views() -> list[BaseView]:
    """Users and API keys (administrators only)."""
    from opsadmin.auth.models import ApiKey, User

    return [
        UserView(
            User, db, name="Users", category="Administration", endpoint="admin_users", url="users"
        ),
        ApiKeyView(
            ApiKey,
            db,
            name="API keys",
            category="Administration",
            endpoint="admin_api_keys",
            url="api-keys",
        ),
    ]


__all__ = ["ApiKeyView", "UserView", "admin_views"]
