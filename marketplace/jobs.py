"""`flask jobs run`: the scheduled upkeep, in-process (ARCHITECTURE: "jobs: in-process").

Every --interval seconds (default 60): expire unpaid orders past their hold (stock
and places go back), queue the day-before reminders, send refunds still to send
and what the outbox holds; queue the market day e-mails buyers asked for (orders
open, last call before the cut-off: notifications/market_days.py); each farm's summary
of a slot whose cut-off passed, its pick list attached (reports/slot_summaries.py);
the daily digest of new orders of the farms that chose one, from their hour;
every hour, generate the dated slots of the weekly openings; once a day (from 02:00
local time, AUDIT_HOUR), the money audit, whose findings are e-mailed to the admins. Each task is
idempotent, so two runners, a restart or a missed tick change nothing; `--once`
runs one round (for cron or a systemd timer instead of a long-running process).
"""

from __future__ import annotations

import logging
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.notifications import farms as farm_mails
from marketplace.notifications import market_days
from marketplace.notifications import orders as notify
from marketplace.notifications import services as outbox
from marketplace.orders.cli import expire_unpaid_now
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.pickup import services as pickup
from marketplace.reports import audit, slot_summaries
from marketplace.sqlite import write_intent
from marketplace.wholesale.cli import run_standing_now

log = logging.getLogger(__name__)

SLOTS_EVERY_S = 3600


def register(app: Flask) -> None:
    app.cli.add_command(jobs_cli)


@click.group("jobs")
def jobs_cli() -> None:
    """Scheduled upkeep."""


def run_once(*, generate_slots: bool = True) -> dict[str, int]:
    """One round of every task; returns what each did."""

    config = current_app.config
    done: dict[str, int] = {}
    may_expire = True
    if gateway.is_configured(config):
        # A card order paid while its webhook was lost is confirmed, not expired. If
        # Stripe cannot be asked, expiring waits for the next round.
        try:
            with write_intent():
                done["paid_late"] = payments.check_before_expiry(db.session, config,
                                                                 now=utcnow())
                db.session.commit()
        except gateway.PaymentGatewayError as exc:
            db.session.rollback()
            log.warning("scheduled jobs: Stripe unreachable, expiry postponed: %s", exc)
            may_expire = False
    done["expired"] = expire_unpaid_now() if may_expire else 0
    window = notify.day_before_window(utcnow(), config["BABEL_DEFAULT_TIMEZONE"])
    done["reminders"] = 0
    if window is not None:
        with write_intent():
            done["reminders"] = notify.send_reminders(db.session, utcnow(), window=window)
            db.session.commit()
    standing = run_standing_now()
    done["standing"] = standing["placed"] + standing["partial"]
    if generate_slots:
        with write_intent():
            done["slots"] = pickup.generate_slots(
                db.session, weeks=config.get("PICKUP_WEEKS_AHEAD", 4), now=utcnow(),
                tz=config["BABEL_DEFAULT_TIMEZONE"])
            db.session.commit()
    # After the slots: a market day generated this round can be announced at once.
    with write_intent():
        done["market_day_mails"] = market_days.queue_due(db.session, config, now=utcnow())
        db.session.commit()
    with write_intent():
        done["slot_summaries"] = slot_summaries.queue_due(db.session, now=utcnow())
        db.session.commit()
    with write_intent():
        done["digests"] = farm_mails.queue_digests(db.session, now=utcnow(),
                                                   tz=config["BABEL_DEFAULT_TIMEZONE"])
        db.session.commit()
    if gateway.is_configured(config):
        with write_intent():
            done["refunds"], done["refunds_failed"] = payments.send_pending_refunds(
                db.session, config, now=utcnow())
            db.session.commit()
        if config.get("STRIPE_CONNECT_ENABLED"):
            with write_intent():
                done["transfers"], done["transfers_failed"] = payments.send_due_transfers(
                    db.session, config, now=utcnow())
                db.session.commit()
    with write_intent():
        run = audit.nightly(db.session, config, now=utcnow())
        db.session.commit()
    if run is not None:
        done["audit_discrepancies"] = run.discrepancies
    done["sent"], done["failed"] = outbox.deliver_pending(db.engine, config)
    return done


@jobs_cli.command("run")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(5, 3600),
              help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and stop.")
@with_appcontext
def run_command(interval: int, once: bool) -> None:
    """Expire unpaid orders, send reminders and e-mails, generate slots; repeatedly."""
    last_slots = 0.0
    while True:
        started = time.monotonic()
        slots_due = started - last_slots >= SLOTS_EVERY_S
        try:
            done = run_once(generate_slots=slots_due)
        except Exception:  # a failed round (database restarting) must not stop the runner
            if once:
                raise
            db.session.rollback()
            log.exception("scheduled jobs: round failed; next try in %s s", interval)
        else:
            if slots_due:
                last_slots = started
            click.echo(" ".join(f"{key}={value}" for key, value in done.items()))
        finally:
            db.session.remove()
        if once:
            return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
