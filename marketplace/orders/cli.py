"""`flask orders expire-unpaid`: cancel unpaid orders past their hold, giving stock
and slot places back. Idempotent; `flask jobs run` calls it every minute."""

from __future__ import annotations

import click
from flask import Flask
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
        expired = services.expire_unpaid(db.session, utcnow())
        db.session.commit()
    return expired


@orders_cli.command("expire-unpaid")
@with_appcontext
def expire_unpaid_command() -> None:
    """Cancel unpaid orders whose hold has ended (stock and places go back)."""
    click.echo(f"{expire_unpaid_now()} unpaid order(s) expired.")


@orders_cli.command("run-standing")
@click.option("--days-ahead", default=None, type=click.IntRange(1, 28),
              help="Place standing orders for slots starting within this many days "
                   "(default: STANDING_ORDERS_DAYS_AHEAD, 7).")
@with_appcontext
def run_standing_command(days_ahead: int | None) -> None:
    """Turn standing orders into orders for their coming slots (idempotent)."""
    click.echo(" ".join(f"{k}={v}" for k, v in run_standing_now(days_ahead).items()))


def run_standing_now(days_ahead: int | None = None) -> dict:
    from flask import current_app

    from marketplace.wholesale import standing

    config = current_app.config
    with write_intent():
        counts = standing.run_standing(
            db.session, now=utcnow(), tz=config["BABEL_DEFAULT_TIMEZONE"],
            days_ahead=days_ahead or config.get("STANDING_ORDERS_DAYS_AHEAD", 7))
        db.session.commit()
    return counts
