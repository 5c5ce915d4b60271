"""The money audit: clean after an ordinary run of orders, payments, shorts, refunds,
cancellations, check-offs and a payout; it reports a ledger, a refund, a stock or a
slot broken on purpose, and a refund that Stripe does not hold as recorded; `flask
payments audit` exits 1 or 0; the scheduled jobs run it once a day and e-mail the
admins; the admin payments page shows the last run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select, text, update

from marketplace.accounts.models import Role
from marketplace.catalogue.models import Variant
from marketplace.jobs import run_once
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import fulfilment
from marketplace.orders import services as orders
from marketplace.orders.models import Actor, Order
from marketplace.payments import services as payments
from marketplace.payments.models import AuditRun, LedgerEntry, LedgerKind, Refund
from marketplace.pickup.models import PickupSlot
from marketplace.reports import audit
from marketplace.wholesale.invoice_models import Invoice
from tests import factories
from tests.clock import now, paris


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


def _force_english(app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def history(app, db, localstripe, hosted_market):
    """An ordinary run: a card order with a short line, a partial refund, handed over and
    paid out; a card order cancelled (refunded in full); an order paid at pickup."""
    _force_english(app)
    m = hosted_market
    config = current_app.config
    paid = factories.confirmed_card_order(app, localstripe, m)
    farm_part = next(sub for sub in paid.sub_orders if sub.producer_id == m["farm"].id)
    fulfilment.set_shorts(db.session, farm_part, {farm_part.lines[0].id: 1}, now=now(),
                          config=config)
    payments.request_refund(db.session, paid, 100, config, reason="abîmé", now=now())
    fulfilment.mark_collected(db.session, paid, now=now(), config=config)
    cancelled = factories.confirmed_card_order(app, localstripe, m, 1)
    orders.cancel(cancelled, Actor.BUYER, now(), session=db.session, config=config)
    at_pickup = factories.order(m["buyers"][2], m["slot"], {m["carrots"].id: 3})
    fulfilment.mark_collected(db.session, at_pickup, now=now(), paid_with="cash", config=config)
    payments.send_pending_refunds(db.session, config, now=now())
    db.session.commit()
    farm, owed, _count = next(row for row in payments.payouts_due(db.session, config)
                              if row[0].id == m["farm"].id)
    payments.record_bank_transfer(db.session, farm, owed, config, now=now())
    db.session.commit()
    return {**m, "paid": paid, "farm_part": farm_part, "cancelled": cancelled,
            "at_pickup": at_pickup}


def _rules(found) -> set[str]:
    return {d.rule for d in found}


def test_an_ordinary_history_adds_up_in_a_fixed_number_of_queries(app, db, history,
                                                                  count_queries):
    with count_queries() as queries:
        assert audit.audit(db.session, app.config, now=now(), stripe=False) == []
    few = len(queries)
    assert audit.audit(db.session, app.config, now=now()) == []  # Stripe agrees too
    more = factories.order(history["buyers"][0], history["slot"], {history["eggs"].id: 2})
    fulfilment.mark_collected(db.session, more, now=now(), paid_with="cheque",
                              config=app.config)
    db.session.commit()
    with count_queries() as queries:
        assert audit.audit(db.session, app.config, now=now(), stripe=False) == []
    assert len(queries) == few


def test_a_farm_refunded_more_than_it_was_paid_is_reported(app, db, history):
    sub = history["farm_part"]
    db.session.add(LedgerEntry(entry_key="bad", producer_id=sub.producer_id,
                               order_id=sub.order_id, sub_order_id=sub.id,
                               kind=LedgerKind.REFUND, amount_cents=-500, created_at=now()))
    db.session.commit()
    found = audit.audit(db.session, app.config, now=now(), stripe=False)
    over = next(d for d in found if d.rule == "refunds_within_paid")
    assert (over.order_id, over.farm_id, over.expected, over.found) == \
        (sub.order_id, sub.producer_id, 700, 350 + 37 + 500)
    assert "refunds_within_paid" in audit.report_text(db.session, found)
    assert "Ferme A" in audit.report_text(db.session, found)


def test_commission_given_back_above_what_was_taken_is_reported(app, db, history):
    sub = history["farm_part"]
    db.session.add(LedgerEntry(entry_key="bad", producer_id=sub.producer_id,
                               order_id=sub.order_id, sub_order_id=sub.id,
                               kind=LedgerKind.COMMISSION_REFUND, amount_cents=80,
                               created_at=now()))
    db.session.commit()
    found = audit.audit(db.session, app.config, now=now(), stripe=False)
    assert "commission_given_back" in _rules(found)


def test_a_refund_not_given_back_by_the_farms_is_reported(app, db, history):
    order = history["paid"]
    db.session.add(Refund(order_id=order.id, amount_cents=50, reason="by hand",
                          created_at=now()))
    db.session.commit()
    found = audit.audit(db.session, app.config, now=now(), stripe=False)
    allocated = next(d for d in found if d.rule == "refund_allocated")
    assert (allocated.order_id, allocated.expected, allocated.found) == (order.id, 50, 0)


def test_a_slot_counting_its_places_wrong_is_reported(app, db, history):
    slot = history["slot"]
    db.session.execute(update(PickupSlot).where(PickupSlot.id == slot.id)
                       .values(taken=PickupSlot.taken + 1))
    db.session.commit()
    found = audit.audit(db.session, app.config, now=now(), stripe=False)
    places = next(d for d in found if d.rule == "slot_places")
    # The cancelled order gave its place back; the two others hold one each.
    assert (places.expected, places.found) == (2, 3)


def test_a_negative_stock_is_reported(app, db, history):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a negative stock needs SQLite's switch for CHECK constraints")
    variant_id = history["carrots"].id
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("PRAGMA ignore_check_constraints = ON"))
        conn.execute(update(Variant).where(Variant.id == variant_id).values(stock=-2))
        conn.execute(text("PRAGMA ignore_check_constraints = OFF"))
    db.session.commit()  # end the session's read transaction: see the change
    found = audit.audit(db.session, app.config, now=now(), stripe=False)
    stock = next(d for d in found if d.rule == "stock_not_negative")
    assert (stock.farm_id, stock.found) == (history["farm"].id, -2)


def test_refunds_that_stripe_does_not_hold_as_recorded_are_reported(app, db, history):
    refund = db.session.scalar(select(Refund).where(Refund.order_id == history["paid"].id,
                                                    Refund.reason == "abîmé"))
    refund.amount_cents += 1  # recorded here for one cent more than Stripe refunded
    db.session.add(Refund(order_id=history["paid"].id, amount_cents=30, reason="ghost",
                          stripe_refund_id="re_not_at_stripe", created_at=now()))
    db.session.commit()
    assert "stripe_refund" not in _rules(audit.audit(db.session, app.config, now=now(),
                                                     stripe=False))
    found = [d for d in audit.audit(db.session, app.config, now=now())
             if d.rule == "stripe_refund"]
    assert sorted((d.expected, d.found) for d in found) == [(30, 0), (101, 100)]
    assert {d.order_id for d in found} == {history["paid"].id}


def test_the_command_prints_what_it_finds_and_exits_1_or_0(app, db, history):
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["payments", "audit"])
    assert clean.exit_code == 0, clean.output
    assert "Money audit: everything adds up." in clean.output
    db.session.execute(update(PickupSlot).where(PickupSlot.id == history["slot"].id)
                       .values(taken=PickupSlot.taken + 1))
    db.session.commit()
    broken = runner.invoke(args=["payments", "audit", "--no-stripe"])
    assert broken.exit_code == 1, broken.output
    assert "[slot_places]" in broken.output
    assert "Expected 2, found 3." in broken.output
    assert "Money audit: 1 discrepancy." in broken.output
    runs = db.session.scalars(select(AuditRun).order_by(AuditRun.id)).all()
    assert [(r.discrepancies, r.stripe_checked) for r in runs] == [(0, True), (1, False)]


def test_the_jobs_audit_once_a_day_from_two_and_mail_the_admins(app, db, history, clock,
                                                                mailbox):
    admins = [factories.user(Role.ADMIN), factories.user(Role.ADMIN)]
    admins[1].locale = "fr"
    db.session.execute(update(PickupSlot).where(PickupSlot.id == history["slot"].id)
                       .values(taken=PickupSlot.taken + 1))
    db.session.commit()

    def audit_mails():
        return db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith("audit:"))).all()

    clock.move_to(paris(2026, 11, 18, 1, 30))  # before 02:00 in Paris: not yet
    run_once(generate_slots=False)
    assert db.session.scalar(select(func.count(AuditRun.id))) == 0
    clock.move_to(paris(2026, 11, 18, 2, 5))
    assert run_once(generate_slots=False)["audit_discrepancies"] == 1
    assert sorted(m.to_address for m in audit_mails()) == sorted(a.email for a in admins)
    bodies = {m.to_address: m.body_text for m in audit_mails()}
    # Each admin reads it in their language.
    assert "[slot_places] Slot " in bodies[admins[0].email]
    assert "[slot_places] Le créneau " in bodies[admins[1].email]
    assert "Attendu" in bodies[admins[1].email]
    clock.move_to(paris(2026, 11, 18, 23, 50))  # later the same day: once is enough
    assert "audit_discrepancies" not in run_once(generate_slots=False)
    assert len(audit_mails()) == 2
    clock.move_to(paris(2026, 11, 19, 2, 1))  # the next night
    assert run_once(generate_slots=False)["audit_discrepancies"] == 1
    assert len(audit_mails()) == 4
    assert [r.nightly_date.isoformat() for r in db.session.scalars(
        select(AuditRun).order_by(AuditRun.id))] == ["2026-11-18", "2026-11-19"]


def test_a_clean_night_mails_nobody(app, db, history, clock):
    factories.user(Role.ADMIN)
    clock.move_to(paris(2026, 11, 18, 3, 0))
    assert run_once(generate_slots=False)["audit_discrepancies"] == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.dedupe_key.startswith("audit:"))) == 0


def test_the_admin_page_shows_the_last_audit(app, client, db, login, history):
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/payments").get_data(as_text=True)
    assert "No audit yet" in page
    audit.record_run(db.session, [], now=now() - timedelta(days=1), stripe_checked=True)
    found = [audit.Discrepancy("slot_places", "Slot 1 is wrong.", expected=2, found=3,
                               unit="places")]
    audit.record_run(db.session, found, now=now(), stripe_checked=False)
    db.session.commit()
    page = client.get("/admin/payments").get_data(as_text=True)
    assert "1 discrepancy." in page
    assert "(Stripe not checked)" in page
    assert "[slot_places] Slot 1 is wrong. Expected 2, found 3." in page
    assert "everything adds up" not in page


def test_a_payment_landing_after_the_order_expired_adds_up(app, db, localstripe,
                                                           hosted_market):
    """Its sale and its refund both reach the farms' ledger: each farm nets zero."""
    order = factories.card_order(hosted_market)
    intent = factories.paid_intent(app, localstripe, order)
    orders.cancel(db.session.get(Order, order.id), Actor.SYSTEM, now(), session=db.session,
                  config=app.config)
    assert payments.apply_intent(db.session, intent, app.config, now=now()) == "refund_late"
    payments.send_pending_refunds(db.session, app.config, now=now())
    db.session.commit()
    assert audit.audit(db.session, app.config, now=now()) == []
    assert db.session.scalar(select(func.sum(LedgerEntry.amount_cents))) == 0


def test_an_invoice_that_does_not_add_up_is_reported_with_its_order_and_farm(
        app, db, invoice_market):
    m = invoice_market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 2})
    (invoice,) = factories.invoices_of(order)
    db.session.commit()
    assert "invoice" not in _rules(audit.audit(db.session, app.config, now=now(), stripe=False))
    db.session.execute(update(Invoice).where(Invoice.id == invoice.id)
                       .values(total_cents=Invoice.total_cents + 1))
    db.session.commit()
    found = [d for d in audit.audit(db.session, app.config, now=now(), stripe=False)
             if d.rule == "invoice"]
    assert found
    assert {(d.order_id, d.farm_id) for d in found} == {
        (order.id, invoice.producer_id)}
