"""`flask payments reconcile`: repair orders whose payment state is behind Stripe's
(a webhook lost while the site was down); `flask payments send-refunds`; a farm's
Connect account and commission rate (``parse_commission_percent`` also serves the
admin's commission page)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.producers.models import Producer
from marketplace.sqlite import write_intent

from . import gateway, services


class CommissionRateError(ValueError):
    """``kind``: "number" (not a number) or "range" (not 0 to 100, two decimals)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def parse_commission_percent(text: str) -> int:
    """A commission rate typed in percent ("8", "7,5", "7.5 %") -> basis points (750).
    From 0 to 100 with at most two decimals; raises CommissionRateError."""

    cleaned = (text or "").strip().removesuffix("%").strip().replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise CommissionRateError("number") from None
    if not value.is_finite() or not 0 <= value <= 100 or value != round(value, 2):
        raise CommissionRateError("range")
    return int(value * 100)


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
            sent, failed = services.send_pending_refunds(db.session, config, now=utcnow())
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
        sent, failed = services.send_pending_refunds(db.session, current_app.config,
                                                     now=utcnow())
        db.session.commit()
    click.echo(f"refunds sent={sent} failed={failed}")


@payments_cli.command("set-connect-account")
@click.option("--producer-email", required=True, help="The farm's account e-mail.")
@click.option("--account", required=True, help="Its Stripe Connect account id (acct_...).")
@with_appcontext
def set_connect_account_command(producer_email: str, account: str) -> None:
    """Pay a farm by Stripe Connect transfers to ACCOUNT (empty: stop, back to the
    bank-transfer statement)."""


    account = account.strip()
    if account and not (account.startswith("acct_") and account[5:].isalnum()
                        and len(account) <= 255):
        raise click.BadParameter("a Stripe account id looks like acct_1AbC...",
                                 param_hint="--account")
    with write_intent():
        farm = db.session.scalar(select(Producer).join(Producer.user)
                                 .where(User.email == producer_email.strip().lower()))
        if farm is None:
            raise click.ClickException(f"no farm with the account {producer_email}")
        farm.stripe_account_id = account or None
        db.session.commit()
    click.echo(f"{farm.name}: " + (f"transfers to {account}" if account else "no transfers"))


@payments_cli.command("set-commission")
@click.option("--producer-email", required=True, help="The farm's account e-mail.")
@click.option("--percent", required=True,
              help="Its commission rate in percent (e.g. 8 or 7.5); 'default' for the "
                   "COMMISSION_BP setting.")
@with_appcontext
def set_commission_command(producer_email: str, percent: str) -> None:
    """Give a farm its own commission rate (sales recorded from now on use it)."""


    rate = None
    if percent.strip().lower() != "default":
        try:
            rate = parse_commission_percent(percent)
        except CommissionRateError as exc:
            raise click.BadParameter("a number such as 8 or 7.5" if exc.kind == "number"
                                     else "from 0 to 100, at most two decimals",
                                     param_hint="--percent") from None
    with write_intent():
        farm = db.session.scalar(select(Producer).join(Producer.user)
                                 .where(User.email == producer_email.strip().lower()))
        if farm is None:
            raise click.ClickException(f"no farm with the account {producer_email}")
        farm.commission_bp = rate
        db.session.commit()
    shown = "the default rate" if rate is None else f"{rate / 100:g} %"
    click.echo(f"{farm.name}: commission {shown}")
