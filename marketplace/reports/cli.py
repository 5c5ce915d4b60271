"""`flask payments audit`: the money audit (reports/audit.py) from the command line,
added to the payments command group, where people look for it; payments cannot
import it (reports reads every domain)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.payments import gateway
from marketplace.payments.cli import payments_cli
from marketplace.sqlite import write_intent

from . import audit


@payments_cli.command("audit")
@click.option("--no-stripe", is_flag=True,
              help="Check the database only, without asking Stripe.")
@with_appcontext
def audit_command(no_stripe: bool) -> None:
    """Check that the money adds up (docs/money.md) and, with Stripe configured, matches
    Stripe; print each discrepancy and exit 1 if there is any. The run is kept for the
    admin payments page."""
    config = current_app.config
    stripe = not no_stripe and gateway.is_configured(config)
    with write_intent():
        found = audit.audit(db.session, config, now=utcnow(), stripe=stripe)
        run = audit.record_run(db.session, found, now=utcnow(), stripe_checked=stripe)
        db.session.commit()
    click.echo(run.report)
    if found:
        click.get_current_context().exit(1)
