"""The commands of `opsadmin` (`flask --app opsadmin` works too), registered on the app by the
factory; the `opsadmin` script itself is :mod:`opsadmin.__main__`."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from opsadmin.errors import DomainError
from opsadmin.extensions import db


def register_commands(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(api_keys)
    app.cli.add_command(seed_demo)
    app.cli.add_command(demo)
    app.cli.add_command(reports)


def _fail(error: DomainError) -> None:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(2)


@click.group()
def users() -> None:
    """Console users."""


@users.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "ops_manager", "regional_lead"]), required=True)
@click.option("--region", "regions", multiple=True, help="Region code (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(email: str, role: str, regions: tuple[str, ...], password_stdin: bool) -> None:
    """Create a console user; the password is prompted for (or read with --password-stdin)."""
    from opsadmin.auth.service import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, email, password, role, list(regions))
    except DomainError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    click.echo(f"created user {user.email} ({user.role})")


@users.command("reset-totp")
@click.argument("email")
@with_appcontext
def users_reset_totp(email: str) -> None:
    """Forget a user's authenticator (a lost phone): their sessions end and they enrol a new one
    at next sign-in. Audited."""
    from opsadmin.audit.service import Actor, acting_as
    from opsadmin.auth.service import user_by_email
    from opsadmin.auth.sessions import reset_totp

    try:
        with acting_as(Actor("system", None, "cli")):
            user = user_by_email(db.session, email)
            reset_totp(db.session, user)
    except DomainError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    click.echo(f"two-factor reset for {user.email}: they enrol a new authenticator at next sign-in")


@click.group("api-keys")
def api_keys() -> None:
    """API keys for the booking system and other integrations."""


@api_keys.command("create")
@click.argument("name")
@click.option(
    "--scopes", default="read", show_default=True, help="Comma-separated: read,write,admin"
)
@with_appcontext
def api_keys_create(name: str, scopes: str) -> None:
    """Create a key; the key itself is printed alone on the last line, once."""
    from opsadmin.auth.service import create_api_key

    try:
        key, plaintext = create_api_key(
            db.session, name, [s.strip() for s in scopes.split(",") if s.strip()], "cli"
        )
    except DomainError as error:
        db.session.rollback()
        _fail(error)
    db.session.commit()
    click.echo(f"created API key {key.name!r} (prefix {key.prefix}, scopes {','.join(key.scopes)})")
    click.echo("Store it now: it is not shown again.")
    click.echo(plaintext)


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Add the demo chain (2 regions, 5 sites, ~25 staff, 12 weeks of bookings, ~60 referrals).

    Idempotent: what exists is kept, only what is missing is added.
    """
    import time

    from opsadmin import demo as demo_chain
    from opsadmin.audit.service import acting_as

    started = time.monotonic()
    with acting_as(demo_chain.ACTOR):
        added = demo_chain.seed_demo(db.session)
    db.session.commit()
    click.echo(f"{demo_chain.summary(added)} ({time.monotonic() - started:.1f} s)")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--yes", is_flag=True, help="Seed demo data even into a database that is not SQLite.")
@click.option(
    "--reset-admin-password",
    "--reset-passwords",
    "reset",
    is_flag=True,
    help="Print new passwords for the demo logins (admin, ops manager, regional lead).",
)
@click.option("--no-serve", is_flag=True, help="Prepare the database and logins, then exit.")
@with_appcontext
def demo(host: str, port: int, yes: bool, reset: bool, no_serve: bool) -> None:
    """What `make demo` runs: migrate, seed the demo chain, create logins, serve the console."""
    import os

    from flask import current_app
    from werkzeug.serving import run_simple

    from opsadmin import demo as demo_chain
    from opsadmin.audit.service import acting_as
    from opsadmin.jobs import DEFAULT, enqueue
    from opsadmin.reports.jobs import dispatch_reports

    config = current_app.config
    if not demo_chain.is_sqlite(config["SQLALCHEMY_DATABASE_URI"]) and not yes:
        raise click.ClickException(
            "DATABASE_URL is not SQLite: `opsadmin demo` would add made-up clinics, staff and "
            "bookings to it. Run it again with --yes if that is what you want."
        )
    demo_chain.migrate_database()
    with acting_as(demo_chain.ACTOR):
        click.echo(demo_chain.summary(demo_chain.seed_demo(db.session)))
        logins = demo_chain.ensure_demo_logins(db.session, reset=reset)
        api_key = demo_chain.ensure_demo_api_key(db.session)
    db.session.commit()
    db.session.remove()
    base_url = f"http://{host}:{port}"
    if not os.environ.get("OPSADMIN_BASE_URL"):
        config["OPSADMIN_BASE_URL"] = base_url  # links in e-mails point at this server
    # Last week's reports, as the hourly dispatcher would send them (in-process: to the outbox).
    enqueue(DEFAULT, dispatch_reports)
    db.session.remove()
    click.echo("\n".join(demo_chain.banner(config, base_url, logins, api_key)))
    if not no_serve:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@click.group()
def reports() -> None:
    """Weekly utilisation and follow-up reports."""


@reports.command("run")
@click.argument("kind", type=click.Choice(["utilisation", "followup"]))
@click.option("--region", "region_code", required=True, help="Region code.")
@click.option("--week", required=True, help="ISO week, e.g. 2026-W49.")
@click.option("--send", "send_now", is_flag=True, help="E-mail the leads who do not have it yet.")
@with_appcontext
def reports_run(kind: str, region_code: str, week: str, send_now: bool) -> None:
    """Build a week's report and print it; with --send, e-mail it (never twice to a lead)."""
    from opsadmin.reports.jobs import run_from_cli

    try:
        summary = run_from_cli(kind, region_code, week, send_now)
    except DomainError as error:
        db.session.rollback()
        _fail(error)
    click.echo(summary)
