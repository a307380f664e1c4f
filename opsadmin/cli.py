"""The `opsadmin` command group (`flask --app opsadmin` works too)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from opsadmin.errors import DomainError
from opsadmin.extensions import db


def _create_app() -> Flask:
    from opsadmin.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """opsadmin: the operations backend of the clinic chain."""


def register_commands(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(api_keys)


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
