"""`flask payments reconcile`: repair orders whose payment state is behind Stripe's
(a webhook lost while the site was down); `flask payments send-refunds`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.sqlite import write_intent

from . import gateway, services


def register(app: Flask) -> None:
    app.cli.add_command(payments_cli)


@click.group("payments")
def payments_cli() -> None:
    """Card payments and refunds."""


@payments_cli.command("reconcile")
@click.option("--days", default=3, show_default=True, type=click.IntRange(1, 90),
              help="Look at the payments of the last DAYS days.")
@with_appcontext
def reconcile_command(days: int) -> None:
    """Compare recent payments with Stripe and bring the orders up to date."""
    config = current_app.config
    try:
        with write_intent():
            outcomes = services.reconcile(db.session, config, now=utcnow(), days=days)
            db.session.commit()
            sent, failed = services.send_pending_refunds(db.session, config)
            db.session.commit()
    except gateway.PaymentGatewayError as exc:
        db.session.rollback()
        raise click.ClickException(f"Stripe could not be asked: {exc}") from None
    summary = ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "nothing to do"
    click.echo(f"reconciled: {summary}; refunds sent={sent} failed={failed}")


@payments_cli.command("send-refunds")
@with_appcontext
def send_refunds_command() -> None:
    """Send the refunds recorded but not yet accepted by Stripe."""
    with write_intent():
        sent, failed = services.send_pending_refunds(db.session, current_app.config)
        db.session.commit()
    click.echo(f"refunds sent={sent} failed={failed}")
