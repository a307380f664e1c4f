"""The `opsadmin` script (and `python -m opsadmin`): Flask's command line on the app the factory
builds, with the commands the factory registers (:mod:`opsadmin.cli`)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from opsadmin.app import create_app


def background_app() -> Flask:
    """The app for commands: migrations, seeding and reports get the job statement timeout."""
    return create_app({"OPSADMIN_BACKGROUND": True})


@click.group(cls=FlaskGroup, create_app=background_app, add_default_commands=True)
def main() -> None:
    """opsadmin: the operations backend of the clinic chain."""


if __name__ == "__main__":
    main()
