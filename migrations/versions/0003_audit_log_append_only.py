"""The audit log is append-only for the application's database role (PostgreSQL).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30

The migration runs as the migration role, which owns the tables; the web app and the workers
connect as the application role named by OPSADMIN_DB_APP_ROLE. That role keeps SELECT and INSERT
on audit_event and loses UPDATE, DELETE and TRUNCATE, so a compromised or buggy application
cannot rewrite the trail. Without OPSADMIN_DB_APP_ROLE only PUBLIC's rights are revoked (a
single-role installation, as in development and the tests). SQLite: nothing to do.
"""

import os

from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0009"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = os.environ.get("OPSADMIN_DB_APP_ROLE", "").strip()
    return '"' + role.replace('"', '""') + '"' if role else ""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC")
    role = _app_role()
    if role:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM {role}")
        op.execute(f"GRANT SELECT, INSERT ON audit_event TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE audit_event_id_seq TO {role}")


def downgrade():
    role = _app_role()
    if op.get_bind().dialect.name == "postgresql" and role:
        op.execute(f"GRANT UPDATE, DELETE ON audit_event TO {role}")
