"""`flask orders run-standing`: turn restaurants' standing orders into orders for their
coming dates (idempotent; `flask jobs run` calls it). Added to the orders command
group, where people look for it."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.orders import services as orders
from marketplace.orders.cli import orders_cli
from marketplace.sqlite import write_intent

from . import standing


@orders_cli.command("run-standing")
@click.option("--days-ahead", default=None, type=click.IntRange(1, 28),
              help="Place standing orders for slots starting within this many days "
                   "(default: STANDING_ORDERS_DAYS_AHEAD, 7).")
@with_appcontext
def run_standing_command(days_ahead: int | None) -> None:
    """Turn standing orders into orders for their coming slots (idempotent)."""
    click.echo(" ".join(f"{k}={v}" for k, v in run_standing_now(days_ahead).items()))


def run_standing_now(days_ahead: int | None = None) -> dict:
    config = current_app.config
    with write_intent():
        counts = standing.run_standing(
            db.session, now=utcnow(), tz=config["BABEL_DEFAULT_TIMEZONE"], config=config,
            days_ahead=days_ahead or orders.standing_days(config))
        db.session.commit()
    return counts
