"""The application's database role cannot rewrite the audit log (issue 11, problem 8).

PostgreSQL only: a throw-away role stands in for the application's, with the rights the README's
"Production" section gives it; the migration's upgrade runs as the owner (this connection), then
the role writes an audited change (allowed) and tries to UPDATE and DELETE the trail (refused).
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from opsadmin.audit.models import AuditEvent
from opsadmin.extensions import db
from opsadmin.locations.models import Region
from tests.conftest import POSTGRES

pytestmark = pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (DATABASE_URL)")
MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations/versions/0003_audit_log_append_only.py"
)


def load_migration():
    spec = importlib.util.spec_from_file_location("audit_append_only", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app_role(app):
    role = f"opsadmin_app_{uuid.uuid4().hex[:8]}"
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    yield role
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")


def test_app_role_may_append_to_the_audit_log_but_not_rewrite_it(app, app_role, monkeypatch):
    monkeypatch.setenv("OPSADMIN_DB_APP_ROLE", app_role)
    with db.engine.begin() as conn:
        with Operations.context(MigrationContext.configure(conn)):
            load_migration().upgrade()
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f"SET ROLE {app_role}")
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            session.add(Region(code="AP", name="Appended", lead_emails=[]))
            session.flush()  # the change and its audit event, inserted as the app role
            created = session.scalar(
                sa.select(AuditEvent).where(AuditEvent.entity == "Region").limit(1)
            )
            assert created is not None and created.action == "create" and created.entity_id
        for statement in ("UPDATE audit_event SET detail = 'rewritten'", "DELETE FROM audit_event"):
            with pytest.raises(sa.exc.ProgrammingError) as refused:
                with conn.begin_nested():
                    conn.exec_driver_sql(statement)
            assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        conn.rollback()
