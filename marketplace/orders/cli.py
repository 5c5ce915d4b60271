"""`flask orders expire-unpaid`: cancel unpaid orders past their hold, giving stock
and slot places back. Idempotent; `flask jobs run` calls it every minute."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.sqlite import write_intent

from . import services


def register(app: Flask) -> None:
    app.cli.add_command(orders_cli)


@click.group("orders")
def orders_cli() -> None:
    """Orders: scheduled upkeep."""


def expire_unpaid_now() -> int:
    with write_intent():
        expired = services.expire_unpaid(db.session, utcnow(), config=current_app.config)
        db.session.commit()
    return expired


@orders_cli.command("expire-unpaid")
@with_appcontext
def expire_unpaid_command() -> None:
    """Cancel unpaid orders whose hold has ended (stock and places go back)."""
    click.echo(f"{expire_unpaid_now()} unpaid order(s) expired.")
