"""Card payments against localstripe: one intent per order, confirmation only
from Stripe's word (a signed webhook or a server-side retrieve), declines and 3-D
Secure, Stripe unreachable, refunds and the farms' ledger.

Webhooks from localstripe cannot reach the Flask test client (no server listens), so
the webhook tests post event payloads they sign themselves with the app's secret."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.catalogue.models import Variant
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import fulfilment
from marketplace.orders import services as orders
from marketplace.orders.models import Actor, Order, OrderStatus
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import (
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)
from tests import factories, pages
from tests.clock import INSTANTS, PARIS, now
from tests.stripe_server import CARD_3DS, CARD_DECLINED, CARD_OK, event_payload, sign_payload
from tests.stripe_stand_in import connect_stand_in


@pytest.fixture
def market(hosted_market):
    """A hosted point with a slot, two farms serving it, three buyers."""
    return hosted_market


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


def pay_page(client, login, order, buyer):
    login(buyer)
    response = client.get(f"/orders/{order.id}/pay")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def confirm(client, order, method_id, **extra):
    from tests.conftest import CSRF_RE

    token = CSRF_RE.search(client.get(f"/orders/{order.id}").get_data(as_text=True))
    return client.post(f"/orders/{order.id}/pay/confirm",
                       data={"csrf_token": token.group(1), "payment_method": method_id, **extra})


def post_event(client, app, payload: bytes, *, secret=None, timestamp=None):
    header = sign_payload(payload, secret or app.config["STRIPE_WEBHOOK_SECRET"], timestamp)
    return client.post("/stripe/webhook", data=payload,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})


def test_paying_by_card_confirms_from_stripe_not_from_the_browser(
        client, db, login, localstripe, market, mailbox):
    order = factories.card_order(market)
    assert order.status == OrderStatus.PENDING_PAYMENT
    page = pay_page(client, login, order, market["buyers"][0])
    assert localstripe.js_url in page  # Stripe.js (here localstripe's stand-in), never a CDN
    # Coming back to the return URL before paying confirms nothing.
    client.get(f"/orders/{order.id}/pay/return")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    # A tampered amount or total sent along is ignored: Stripe charges the order's total.
    answer = confirm(client, order, localstripe.card(CARD_OK), amount="1", total_cents="1")
    assert answer.status_code == 200
    assert answer.json["status"] == "succeeded"
    db.session.expire_all()
    paid = db.session.get(Order, order.id)
    assert paid.status == OrderStatus.CONFIRMED
    assert paid.paid_at is not None
    assert {s.status for s in paid.sub_orders} == {OrderStatus.CONFIRMED}
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_cents == paid.total_cents == 2 * 350 + 597
    # Stripe holds exactly the order's total.
    intent = gateway.retrieve_payment_intent(client.application.config, payment.intent_id)
    assert intent["amount"] == paid.total_cents
    assert intent["status"] == "succeeded"
    mailbox.wait_for(1)
    [mail] = mailbox.to(db.session.get(Order, order.id).buyer.email)
    assert f"{order.id}" in mail["Subject"]
    # Sales and the 10 % commission per farm are in the ledger.
    entries = {(e.producer_id, e.kind): e.amount_cents
               for e in db.session.scalars(select(LedgerEntry))}
    assert entries[(market["farm"].id, LedgerKind.SALE)] == 700
    assert entries[(market["farm"].id, LedgerKind.COMMISSION)] == -70
    assert entries[(market["other_farm"].id, LedgerKind.COMMISSION)] == -60  # 59.7 -> 60


def test_double_click_and_retry_make_one_intent_and_one_charge(
        client, db, login, localstripe, market):
    order = factories.card_order(market)
    pay_page(client, login, order, market["buyers"][0])
    client.get(f"/orders/{order.id}/pay")  # reload, or a retried checkout
    assert db.session.scalar(select(func.count(Payment.id))) == 1
    method = localstripe.card(CARD_OK)
    first = confirm(client, order, method)
    second = confirm(client, order, method)  # the double click
    assert first.status_code == 200
    assert second.status_code == 200
    config = client.application.config
    intents = list(gateway.list_payment_intents_since(config, 0))
    assert len(intents) == 1
    charges = intents[0]["latest_charge"]
    assert charges is not None
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


def test_a_declined_card_leaves_the_order_pending_and_can_be_retried(
        client, db, login, localstripe, market):
    order = factories.card_order(market)
    pay_page(client, login, order, market["buyers"][0])
    answer = confirm(client, order, localstripe.card(CARD_DECLINED))
    assert answer.status_code == 402
    assert "declined" in answer.json["error"]
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    page = client.get(f"/orders/{order.id}/pay").get_data(as_text=True)
    assert "The last attempt did not go through" in page
    assert confirm(client, order, localstripe.card(CARD_OK)).status_code == 200
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


def test_failed_3d_secure_then_expiry_gives_the_stock_back(
        app, client, db, login, localstripe, market):
    order = factories.card_order(market, cart={market["carrots"].id: 5})
    pay_page(client, login, order, market["buyers"][0])
    answer = confirm(client, order, localstripe.card(CARD_3DS))
    assert answer.json["status"] == "requires_action"
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    localstripe.authenticate(payment.intent_id, payment.client_secret, success=False)
    client.get(f"/orders/{order.id}/pay/return")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.get(Variant, market["carrots"].id).stock == 45
    # The hold ends: the jobs ask Stripe first (not paid), then expire the order.
    order_id, carrots_id = order.id, market["carrots"].id
    db.session.get(Order, order_id).expires_at = now() - timedelta(seconds=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "paid_late=0 expired=1" in result.output
    assert db.session.get(Order, order_id).status == OrderStatus.CANCELLED
    assert db.session.get(Variant, carrots_id).stock == 50


def test_3d_secure_completed_confirms(client, db, login, localstripe, market):
    order = factories.card_order(market)
    pay_page(client, login, order, market["buyers"][0])
    assert confirm(client, order, localstripe.card(CARD_3DS)).json["status"] == "requires_action"
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    localstripe.authenticate(payment.intent_id, payment.client_secret, success=True)
    response = client.get(f"/orders/{order.id}/pay/return")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


def test_same_webhook_twice_records_one_payment_and_one_email(
        app, client, db, localstripe, market, mailbox):
    order = factories.card_order(market)
    intent = factories.paid_intent(app, localstripe, order)
    payload = event_payload("payment_intent.succeeded", json.loads(str(intent)),
                            event_id="evt_once")
    first = post_event(client, app, payload)
    second = post_event(client, app, payload)
    assert first.status_code == 200
    assert first.json["outcome"] == "confirmed"
    assert second.json["outcome"] == "duplicate"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 1
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 4  # sale+commission x2
    mailbox.wait_for(1)
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.dedupe_key == f"order-confirmed:{order.id}")) == 1
    # One to the buyer (the farms are each told of their part, apart).
    buyer = db.session.get(Order, order.id).buyer.email
    assert len([m for m in mailbox.to(buyer) if str(order.id) in m["Subject"]]) == 1


def test_events_out_of_order_end_in_the_right_state(app, client, db, localstripe,
                                                    market):
    order = factories.card_order(market)
    intent = json.loads(str(factories.paid_intent(app, localstripe, order)))
    failed = dict(intent, status="requires_payment_method",
                  last_payment_error={"message": "Your card was declined."})
    post_event(client, app, event_payload("payment_intent.succeeded", intent))
    late = post_event(client, app, event_payload("payment_intent.payment_failed", failed))
    assert late.json["outcome"] == "unchanged"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


@pytest.mark.parametrize("tamper", ["body", "secret", "old"])
def test_untrusted_webhooks_get_400_and_change_nothing(app, client, db, localstripe, market,
                                                       tamper):
    order = factories.card_order(market)
    intent = json.loads(str(factories.paid_intent(app, localstripe, order)))
    payload = event_payload("payment_intent.succeeded", intent)
    header = sign_payload(payload, app.config["STRIPE_WEBHOOK_SECRET"],
                          int(now().timestamp()) - 3600 if tamper == "old" else None)
    if tamper == "secret":
        header = sign_payload(payload, "whsec_wrong")
    body = payload.replace(b'"status": "succeeded"', b'"status": "succeeded" ') \
        if tamper == "body" else payload
    response = client.post("/stripe/webhook", data=body,
                           headers={"Stripe-Signature": header,
                                    "Content-Type": "application/json"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 0


def test_stripe_unreachable_keeps_the_order_and_reconcile_confirms_it_later(
        app, client, db, login, localstripe, market):
    order = factories.card_order(market)
    buyer = market["buyers"][0]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        login(buyer)
        response = client.get(f"/orders/{order.id}/pay")
        assert response.status_code == 503
        assert "cannot be reached" in response.get_data(as_text=True)
    finally:
        app.config["STRIPE_API_BASE"] = localstripe.base_url
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    # Paid meanwhile, with the webhook lost: reconcile finds it.
    factories.paid_intent(app, localstripe, order)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "confirmed=1" in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED
    again = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "unchanged=1" in again.output


def test_cancel_refunds_in_full_and_a_short_line_refunds_that_line(
        app, client, db, login, form_post, localstripe, market):
    m = market
    first = factories.card_order(m, 0)
    second = factories.card_order(m, 1, cart={m["carrots"].id: 4})
    for order, buyer in ((first, m["buyers"][0]), (second, m["buyers"][1])):
        pay_page(client, login, order, buyer)
        assert confirm(client, order, localstripe.card(CARD_OK)).status_code == 200
        pages.sign_out(client)
    # The buyer cancels before the cut-off: refunded in full.
    login(m["buyers"][0])
    response = form_post(f"/orders/{first.id}/cancel", {"confirm": "1"}, page=f"/orders/{first.id}")
    assert response.status_code == 303
    db.session.expire_all()
    refund = db.session.scalar(select(Refund).where(Refund.order_id == first.id))
    assert refund.amount_cents == 1297
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.stripe_refund_id
    # The farm marks one carrot short on the other order: 3.50 back to that buyer.
    pages.sign_out(client)
    login(m["farm"].user)
    sub = db.session.get(Order, second.id).sub_orders[0]
    response = form_post(f"/farm/orders/sub-orders/{sub.id}/ready",
                         {f"short-{sub.lines[0].id}": "1"},
                         page=f"/farm/orders/slots/{m['slot'].id}")
    assert response.status_code == 303
    db.session.expire_all()
    short = db.session.scalar(select(Refund).where(Refund.order_id == second.id))
    assert short.amount_cents == 350
    assert short.order_line_id == sub.lines[0].id
    assert short.status == RefundStatus.SUCCEEDED
    # Lowering the missing units below what was refunded is refused.
    response = form_post(f"/farm/orders/sub-orders/{sub.id}/ready",
                         {f"short-{sub.lines[0].id}": "0"},
                         page=f"/farm/orders/slots/{m['slot'].id}")
    assert response.status_code == 400
    assert "already refunded" in response.get_data(as_text=True)
    # Stripe holds the refunds too.
    config = app.config
    intent_id = db.session.scalar(select(Payment.intent_id).where(Payment.order_id == second.id))
    intent = gateway.retrieve_payment_intent(config, intent_id)
    assert intent["amount"] == 1400
    # The farm's ledger: sales 7.00 + 14.00, refunds -7.00 and -3.50, commission net.
    farm_entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.producer_id == m["farm"].id)).all()
    assert sum(e.amount_cents for e in farm_entries if e.kind == LedgerKind.SALE) == 2100
    assert sum(e.amount_cents for e in farm_entries if e.kind == LedgerKind.REFUND) == -1050
    total = sum(e.amount_cents for e in farm_entries)
    assert total == 2100 - 1050 - 210 + 105


def test_refund_cannot_exceed_what_was_paid(app, db, localstripe, market):
    order = factories.card_order(market)
    factories.paid_intent(app, localstripe, order)
    with app.test_request_context():
        payment = payments.payment_of(db.session, order)
        intent = gateway.retrieve_payment_intent(app.config, payment.intent_id)
        assert payments.apply_intent(db.session, intent, app.config, now=now()) == "confirmed"
        db.session.commit()
        with pytest.raises(payments.RefundError):
            payments.request_refund(db.session, order, order.total_cents + 1, app.config,
                                    reason="too much", now=now())
        with pytest.raises(payments.RefundError):
            payments.request_refund(db.session, order, 0, app.config, reason="zero", now=now())


def _ledger_by_kind(db, **where) -> dict:
    query = select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents)).group_by(
        LedgerEntry.kind)
    for column, value in where.items():
        query = query.where(getattr(LedgerEntry, column) == value)
    return {kind: int(total) for kind, total in db.session.execute(query).all()}


def test_a_refused_refund_leaves_the_farms_ledger_as_before_and_can_be_redone(
        app, db, localstripe, market, monkeypatch):
    m = market
    order = factories.confirmed_card_order(app, localstripe, m, cart={m["carrots"].id: 2})
    before = _ledger_by_kind(db, order_id=order.id)

    def refuse(*args, **kwargs):
        raise gateway.PaymentGatewayError("refused", unreachable=False,
                                          user_message=gateway.REFUSED)

    with app.test_request_context():
        payments.request_refund(db.session, order, 350, app.config, reason="a", now=now())
        db.session.commit()
        with monkeypatch.context() as patch:
            patch.setattr(gateway, "create_refund", refuse)
            assert payments.send_pending_refunds(db.session, app.config, now=now()) == (0, 1)
            db.session.commit()
        assert db.session.scalar(select(Refund)).status == RefundStatus.FAILED
        # The farm gave nothing back: its refund and commission lines are cancelled.
        after = _ledger_by_kind(db, order_id=order.id)
        assert {k: v for k, v in after.items() if v} == {k: v for k, v in before.items() if v}
        # The admin refunds again; this one goes through: the farm gives back 3.50 once.
        payments.request_refund(db.session, order, 350, app.config, reason="b", now=now())
        db.session.commit()
        assert payments.send_pending_refunds(db.session, app.config, now=now()) == (1, 0)
        db.session.commit()
    ledger = _ledger_by_kind(db, order_id=order.id)
    assert ledger[LedgerKind.REFUND] == -350
    assert ledger[LedgerKind.COMMISSION_REFUND] == 35
    # A late "succeeded" event for the refused refund changes nothing (failed is final).
    failed = db.session.scalar(select(Refund).where(Refund.status == RefundStatus.FAILED))
    failed.stripe_refund_id = "re_refused"
    db.session.commit()
    with app.test_request_context():
        assert payments.apply_refund_object(
            db.session, {"id": "re_refused", "status": "succeeded"}, now=now()) == "unchanged"
        db.session.commit()
    assert _ledger_by_kind(db, order_id=order.id) == ledger


def test_a_refund_that_fails_after_it_succeeded_is_taken_off_the_ledger(
        app, db, localstripe, market):
    order = factories.confirmed_card_order(app, localstripe, market)
    with app.test_request_context():
        payments.request_refund(db.session, order, 500, app.config, reason="x", now=now())
        db.session.commit()
        payments.send_pending_refunds(db.session, app.config, now=now())
        db.session.commit()
        refund = db.session.scalar(select(Refund))
        assert refund.status == RefundStatus.SUCCEEDED
        assert _ledger_by_kind(db, order_id=order.id)[LedgerKind.REFUND] == -500
        # Stripe: refund.failed (the card was closed); the webhook applied twice.
        for _ in range(2):
            payments.apply_refund_object(db.session, {"id": refund.stripe_refund_id,
                                                      "status": "failed"}, now=now())
            db.session.commit()
    assert db.session.get(Refund, refund.id).status == RefundStatus.FAILED
    ledger = _ledger_by_kind(db, order_id=order.id)
    assert ledger[LedgerKind.REFUND] == 0
    assert ledger[LedgerKind.COMMISSION_REFUND] == 0
    assert payments.refundable_cents(db.session, db.session.get(Order, order.id)) == \
        order.total_cents


def test_refunds_in_small_parts_give_back_exactly_the_commission_taken(
        app, db, localstripe, market):
    m = market
    order = factories.confirmed_card_order(app, localstripe, m, cart={m["carrots"].id: 2})
    assert order.total_cents == 700  # 70 cents of commission at 10 %
    with app.test_request_context():
        left = 700
        while left:
            part = min(45, left)  # 4.5 cents of commission each: rounded, it added up to 78
            payments.request_refund(db.session, order, part, app.config, reason="part",
                                    now=now())
            left -= part
        db.session.commit()
    ledger = _ledger_by_kind(db, order_id=order.id)
    assert ledger[LedgerKind.COMMISSION_REFUND] == -ledger[LedgerKind.COMMISSION] == 70
    assert sum(ledger.values()) == 0  # fully refunded: the farm is owed nothing


def test_two_refunds_at_once_never_give_back_more_than_was_paid(
        app, db, localstripe, market, monkeypatch):
    import threading
    import time

    from marketplace.sqlite import write_intent

    order = factories.confirmed_card_order(app, localstripe, market)
    order_id, total = order.id, order.total_cents  # the threads never touch this session
    read = payments.refunded_cents

    def slow_read(session, order_id):  # widen the window between reading and writing
        amount = read(session, order_id)
        time.sleep(0.3)
        return amount

    monkeypatch.setattr(payments, "refunded_cents", slow_read)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=60)
                try:
                    with write_intent():
                        mine = db.session.get(Order, order_id)
                        payments.request_refund(db.session, mine, mine.total_cents, app.config,
                                                reason="twice", now=now())
                        db.session.commit()
                        outcomes.append("refunded")
                except payments.RefundError:
                    db.session.rollback()
                    outcomes.append("refused")
                finally:
                    db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(outcomes) == ["refunded", "refused", "refused"]
    db.session.rollback()
    assert db.session.scalar(select(func.sum(Refund.amount_cents))) == total


def test_a_payment_landing_after_expiry_is_refunded(app, client, db, localstripe,
                                                    market):
    order = factories.card_order(market)
    intent = json.loads(str(factories.paid_intent(app, localstripe, order)))
    orders.cancel(db.session.get(Order, order.id), Actor.SYSTEM, now(), session=db.session,
                  config=app.config)
    db.session.commit()
    response = post_event(client, app, event_payload("payment_intent.succeeded", intent))
    assert response.json["outcome"] == "refund_late"
    db.session.expire_all()
    refund = db.session.scalar(select(Refund).where(Refund.order_id == order.id))
    assert refund.amount_cents == order.total_cents
    assert refund.status == RefundStatus.SUCCEEDED
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED


def test_coming_back_after_a_late_payment_says_refunded_not_confirmed(
        app, client, db, login, localstripe, market):
    order = factories.card_order(market)
    intent = json.loads(str(factories.paid_intent(app, localstripe, order)))
    orders.cancel(db.session.get(Order, order.id), Actor.SYSTEM, now(), session=db.session,
                  config=app.config)
    db.session.commit()
    # The webhook is first; then the buyer's browser comes back from 3-D Secure.
    assert post_event(client, app, event_payload("payment_intent.succeeded", intent)
                      ).json["outcome"] == "refund_late"
    login(market["buyers"][0])
    response = client.get(f"/orders/{order.id}/pay/return")
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "refunded in full" in html
    assert "your order is confirmed" not in html


def test_pay_at_pickup_ledger_is_written_at_check_off(app, db, market):
    """Each check-off writes what the farm supplied; undoing one takes its lines back
    with opposite lines (none is changed or deleted), so the ledger always says what the
    order ends as."""
    order = factories.order(market["buyers"][0], market["slot"], {market["carrots"].id: 2})

    def by_kind() -> dict:
        return {kind: int(total) for kind, total in db.session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
            .group_by(LedgerEntry.kind))}

    with app.test_request_context():
        fulfilment.mark_collected(db.session, order, now=now(), paid_with="cash",
            config=current_app.config)
        db.session.commit()
        assert by_kind() == {LedgerKind.SALE: 700, LedgerKind.COMMISSION: -70,
                             LedgerKind.PAID_AT_PICKUP: -700}
        fulfilment.undo_collected(db.session, order, now=now())
        db.session.commit()
        assert by_kind() == {LedgerKind.SALE: 0, LedgerKind.COMMISSION: 0,
                             LedgerKind.PAID_AT_PICKUP: 0}
        # Undone twice (a double tap): refused, nothing more taken back.
        with pytest.raises(fulfilment.FulfilmentError):
            fulfilment.undo_collected(db.session, order, now=now())
        # One kilo was missing after all: handed over again, the farm sold one.
        fulfilment.set_shorts(db.session, order.sub_orders[0], {order.sub_orders[0].lines[0].id: 1},
                              now=now(), config=current_app.config)
        fulfilment.mark_collected(db.session, order, now=now(), paid_with="cash",
            config=current_app.config)
        db.session.commit()
    assert by_kind() == {LedgerKind.SALE: 350, LedgerKind.COMMISSION: -35,
                         LedgerKind.PAID_AT_PICKUP: -350}
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 9


def test_another_buyers_payment_pages_are_not_found(client, db, login, localstripe,
                                                    market):
    order = factories.card_order(market)
    login(market["buyers"][1])
    assert client.get(f"/orders/{order.id}/pay").status_code == 404
    assert client.get(f"/orders/{order.id}/pay/return").status_code == 404
    assert db.session.scalar(select(func.count(Payment.id))) == 0


def test_farm_ledger_page_and_csv_statement(app, client, db, login, localstripe, market,
                                            count_queries):
    m = market
    order = factories.card_order(m)
    pay_page(client, login, order, m["buyers"][0])
    assert confirm(client, order, localstripe.card(CARD_OK)).status_code == 200
    at_pickup = factories.order(m["buyers"][1], m["slot"], {m["carrots"].id: 1})
    with app.test_request_context():
        fulfilment.mark_collected(db.session, at_pickup, now=now(), paid_with="cash",
            config=current_app.config)
        db.session.commit()
    pages.sign_out(client)
    login(m["farm"].user)
    month = now().astimezone(PARIS).strftime("%Y-%m")
    with count_queries() as queries:
        page = client.get(f"/farm/ledger?month={month}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # Card: 7.00 sale, -0.70 commission. At pickup: 3.50 sale, -0.35, -3.50 received.
    assert '<td class="text-end fw-bold ledger-balance">€5.95</td>' in html
    few = len(queries)
    for _ in range(2):
        extra = factories.order(m["buyers"][2], m["slot"], {m["carrots"].id: 1})
        with app.test_request_context():
            fulfilment.mark_collected(db.session, extra, now=now(), paid_with="cheque",
                config=current_app.config)
            db.session.commit()
    with count_queries() as queries:
        assert client.get(f"/farm/ledger?month={month}").status_code == 200
    assert len(queries) == few
    response = client.get(f"/farm/ledger/statement.csv?month={month}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert ",Sales," in text
    assert text.strip().splitlines()[-1].endswith(",5.25,")  # 5.95 - 2 x 0.35 commission
    for bad in ("2026-13", "26-11", "2026-1", "x"):
        assert client.get(f"/farm/ledger?month={bad}").status_code == 400
    # Another farm's account shows none of it.
    pages.sign_out(client)
    login(m["other_farm"].user)
    other = client.get(f"/farm/ledger?month={month}").get_data(as_text=True)
    assert '<td class="text-end fw-bold ledger-balance">€5.37</td>' in other  # 5.97 - 0.60


@pytest.mark.parametrize("clock", [
    p for p in INSTANTS if p.id in ("tuesday-morning", "new-years-eve", "new-year-in-paris-only")
], indirect=True)
def test_this_months_statement_is_the_month_in_paris(app, client, db, login, market, clock):
    m = market
    order = factories.order(m["buyers"][1], m["slot"], {m["carrots"].id: 1})
    with app.test_request_context():
        fulfilment.mark_collected(db.session, order, now=now(), paid_with="cash",
            config=current_app.config)
        db.session.commit()
    pages.sign_out(client)
    login(m["farm"].user)
    local = clock.start.astimezone(PARIS)
    response = client.get("/farm/ledger/statement.csv")  # this month, by the clock
    assert response.status_code == 200
    assert f"statement-{local:%Y-%m}-farm{m['farm'].id}.csv" in response.headers[
        "Content-Disposition"]
    assert f"{local:%Y-%m-%d %H:%M},{order.id},Sales," in response.get_data(as_text=True)
    before = local.replace(day=1) - timedelta(days=1)
    earlier = client.get(f"/farm/ledger/statement.csv?month={before:%Y-%m}")
    assert f",{order.id}," not in earlier.get_data(as_text=True)


def test_admin_refunds_part_of_an_order(app, client, db, login, form_post, localstripe,
                                        market, count_queries):
    from marketplace.accounts.models import Role
    from tests import factories

    m = market
    order = factories.card_order(m)
    pay_page(client, login, order, m["buyers"][0])
    assert confirm(client, order, localstripe.card(CARD_OK)).status_code == 200
    # Only an admin sees the page.
    assert client.get("/admin/payments").status_code == 403
    pages.sign_out(client)
    login(factories.user(Role.ADMIN))
    with count_queries() as queries:
        page = client.get("/admin/payments")
    assert page.status_code == 200
    assert f'data-order="{order.id}"' in page.get_data(as_text=True)
    few = len(queries)
    url = f"/admin/payments/orders/{order.id}/refund"
    for data, message in (({"amount": "abc", "reason": "x"}, "Enter the amount in euros"),
                          ({"amount": "2,50", "reason": " "}, "Give a reason"),
                          ({"amount": "99", "reason": "trop"}, "can still be refunded"),
                          ({"amount": "-1", "reason": "neg"}, "above zero"),
                          # Too many digits for a price (it raised a 500 once).
                          ({"amount": "1e30", "reason": "x"}, "Enter the amount in euros"),
                          ({"amount": "9" * 29, "reason": "x"}, "Enter the amount in euros")):
        response = form_post(url, data, page="/admin/payments")
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Refund.id))) == 0
    done = form_post(url, {"amount": "2,50", "reason": "Salade abîmée"}, page="/admin/payments")
    assert done.status_code == 303
    refund = db.session.scalar(select(Refund))
    assert refund.amount_cents == 250
    assert refund.status == RefundStatus.SUCCEEDED
    # The buyer sees it on the order.
    pages.sign_out(client)
    login(m["buyers"][0])
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Salade abîmée" in html
    assert "€2.50" in html
    # More payments: the admin page still issues the same number of queries.
    for index in (1, 2):
        other = factories.card_order(m, index)
        pages.sign_out(client)
        pay_page(client, login, other, m["buyers"][index])
        assert confirm(client, other, localstripe.card(CARD_OK)).status_code == 200
    pages.sign_out(client)
    login(factories.user(Role.ADMIN))
    with count_queries() as queries:
        assert client.get("/admin/payments").status_code == 200
    assert len(queries) == few
    assert client.post("/admin/payments/orders/999999/refund", data={}).status_code in (400, 404)


def test_connect_transfers_pay_each_farm_its_net_once(app, db, localstripe, market):
    """Connect transfers against the local stand-in (connect_stand_in); the payment
    itself goes through localstripe."""
    m = market
    order = factories.card_order(m)
    intent = factories.paid_intent(app, localstripe, order)
    with app.test_request_context():
        assert payments.apply_intent(db.session, intent, app.config, now=now()) == "confirmed"
        db.session.commit()
        farm_sub = next(s for s in order.sub_orders if s.producer_id == m["farm"].id)
        fulfilment.set_shorts(db.session, farm_sub, {farm_sub.lines[0].id: 1}, now=now(),
            config=current_app.config)
        fulfilment.mark_collected(db.session, order, now=now(), config=current_app.config)
        db.session.commit()
    m["farm"].stripe_account_id = "acct_farmA"  # the other farm has none: bank transfer
    db.session.commit()
    with connect_stand_in(app, "tr_test_1") as (stand_in, config):
        assert payments.send_due_transfers(db.session, config, now=now()) == (1, 0)
        db.session.commit()
        assert payments.send_due_transfers(db.session, config, now=now()) == (0, 0)
    [request] = stand_in.requests
    assert request["path"] == "/v1/transfers"
    # 2 x 3.50 sold, 10 % commission, 1 short refunded with its commission given back.
    assert request["fields"]["amount"] == str(700 - 70 - 350 + 35)
    assert request["fields"]["destination"] == "acct_farmA"
    assert request["fields"]["transfer_group"] == f"order-{order.id}"
    assert request["headers"]["Idempotency-Key"] == f"transfer-sub-{farm_sub.id}"
    balance = db.session.scalar(select(func.sum(LedgerEntry.amount_cents))
                                .where(LedgerEntry.producer_id == m["farm"].id))
    assert balance == 0
    # Connect off: nothing is sent at all.
    assert payments.send_due_transfers(db.session, dict(app.config), now=now()) == (0, 0)


def test_sub_orders_with_nothing_to_pay_never_hold_back_the_transfers(
        app, db, localstripe, market, monkeypatch):
    m = market
    first = factories.confirmed_card_order(app, localstripe, m, 0, cart={m["carrots"].id: 1})
    second = factories.confirmed_card_order(app, localstripe, m, 1, cart={m["carrots"].id: 1})
    with app.test_request_context():
        for order, short in ((first, 1), (second, 0)):
            order = db.session.get(Order, order.id)
            sub = order.sub_orders[0]
            if short:  # the farm had none: refunded, its net is 0
                fulfilment.set_shorts(db.session, sub, {sub.lines[0].id: 1}, now=now(),
                    config=current_app.config)
            fulfilment.mark_collected(db.session, order, now=now(), config=current_app.config)
        db.session.commit()
    m["farm"].stripe_account_id = "acct_farmA"
    db.session.commit()
    # One place in the list stands for the hundred a batch takes.
    due = payments.transfers_due
    monkeypatch.setattr(payments, "transfers_due", lambda session, limit=1: due(session, limit=1))
    with connect_stand_in(app, "tr_test_2") as (stand_in, config):
        assert payments.send_due_transfers(db.session, config, now=now()) == (1, 0)
        db.session.commit()
    [request] = stand_in.requests
    second_sub = db.session.get(Order, second.id).sub_orders[0]
    assert request["headers"]["Idempotency-Key"] == f"transfer-sub-{second_sub.id}"


def test_commission_and_connect_account_commands(app, db, market):
    runner = app.test_cli_runner()
    email = market["farm"].user.email
    farm_id = market["farm"].id
    result = runner.invoke(args=["payments", "set-commission", "--producer-email", email,
                                 "--percent", "7,5"])
    assert result.exit_code == 0, result.output
    for bad in ("abc", "101", "-1", "7.555", "nan"):
        refused = runner.invoke(args=["payments", "set-commission", "--producer-email", email,
                                      "--percent", bad])
        assert refused.exit_code == 2, bad
    assert runner.invoke(args=["payments", "set-connect-account", "--producer-email", email,
                               "--account", "acct_1Abc"]).exit_code == 0
    assert runner.invoke(args=["payments", "set-connect-account", "--producer-email", email,
                               "--account", "not-an-account"]).exit_code == 2
    assert runner.invoke(args=["payments", "set-commission", "--producer-email",
                               "nobody@example.org", "--percent", "5"]).exit_code == 1
    from marketplace.producers.models import Producer

    db.session.expire_all()
    farm = db.session.get(Producer, farm_id)
    assert farm.commission_bp == 750
    assert farm.stripe_account_id == "acct_1Abc"
    # The farm's own rate is what its sales are charged.
    order = factories.order(market["buyers"][0], market["slot"], {market["carrots"].id: 2})
    with app.test_request_context():
        fulfilment.mark_collected(db.session, order, now=now(), paid_with="cash",
            config=current_app.config)
        db.session.commit()
    commission = db.session.scalar(select(LedgerEntry.amount_cents).where(
        LedgerEntry.kind == LedgerKind.COMMISSION))
    assert commission == -53  # 7.5 % of 7.00 = 52.5, rounded half up
