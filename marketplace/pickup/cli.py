"""`flask pickup generate-slots --weeks 4`: create the dated slots of every schedule."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.sqlite import write_intent

from . import services


def register(app: Flask) -> None:
    app.cli.add_command(pickup_cli)


@click.group("pickup")
def pickup_cli() -> None:
    """Pickup schedules and slots."""


@pickup_cli.command("generate-slots")
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(0, 52),
              help="How many weeks ahead to generate.")
@with_appcontext
def generate_slots_command(weeks: int) -> None:
    """Create the dated slots of every active schedule (idempotent)."""
    with write_intent():
        created = services.generate_slots(
            db.session, weeks=weeks, now=utcnow(),
            tz=current_app.config["BABEL_DEFAULT_TIMEZONE"],
        )
        db.session.commit()
    click.echo(f"{created} slot(s) created.")
