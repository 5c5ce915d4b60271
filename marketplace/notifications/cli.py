"""`flask notifications deliver` and `flask notifications send-reminders`."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.sqlite import write_intent

from . import orders, services


def register(app: Flask) -> None:
    app.cli.add_command(notifications_cli)


@click.group("notifications")
def notifications_cli() -> None:
    """E-mail notifications (the outbox)."""


@notifications_cli.command("deliver")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(1),
              help="At most this many e-mails in this run.")
@with_appcontext
def deliver_command(limit: int) -> None:
    """Send the e-mails still in the outbox (retries the failed ones)."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        click.echo(f"MAIL_SERVER is not set: {_pending(config)} e-mail(s) stay in the outbox.")
        return
    sent, failed = services.deliver_pending(db.engine, config, limit=limit)
    click.echo(f"{sent} sent, {failed} failed, {_pending(config)} still pending.")


def _pending(config) -> int:
    # A session of its own: it sees what deliver_pending has just committed.
    with Session(db.engine) as session:
        return services.pending_count(session, config["MAIL_MAX_ATTEMPTS"])


@notifications_cli.command("send-reminders")
@click.option("--from-hours", default=12, show_default=True, type=click.IntRange(0),
              help="Remind orders whose slot starts at least this many hours from now...")
@click.option("--to-hours", default=36, show_default=True, type=click.IntRange(1),
              help="...and less than this many hours from now.")
@with_appcontext
def send_reminders_command(from_hours: int, to_hours: int) -> None:
    """Queue the reminder of every order collected soon (run it once a day), then send."""
    if to_hours <= from_hours:
        raise click.BadParameter("must be more than --from-hours", param_hint="--to-hours")
    window = (timedelta(hours=from_hours), timedelta(hours=to_hours))
    with write_intent():
        queued = orders.send_reminders(db.session, utcnow(), window=window)
        db.session.commit()  # the reminders are sent right after this commit
    click.echo(f"{queued} reminder(s) queued.")
