"""A restaurant pays one of its invoices by card, against localstripe: one
intent per invoice for what is still due, the invoice paid only from Stripe's word
(a signed webhook or a server-side retrieve), once, with its ledger lines; the farm's
manual mark cancels an open card payment first, so nobody pays twice.

Webhooks from localstripe cannot reach the Flask test client, so the webhook tests
post event payloads they sign themselves (tests/stripe_server.py)."""

from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import func, select

from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import (
    InvoicePayment,
    LedgerEntry,
    LedgerKind,
    PaymentStatus,
    StripeEvent,
)
from marketplace.sqlite import write_intent
from marketplace.wholesale import invoice_payments, invoices
from marketplace.wholesale.invoice_models import Invoice
from tests import factories, pages
from tests.clock import now
from tests.conftest import CSRF_RE
from tests.stripe_server import CARD_3DS, CARD_DECLINED, CARD_OK, event_payload, sign_payload


@pytest.fixture
def market(invoice_market):
    """Two farms, a slot, two restaurants with terms."""
    return invoice_market


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def invoice(db, market):
    """Ferme A's invoice to Le Bistrot: 3 kg of carrots and a litre of juice, 14.70."""
    m = market
    first = factories.invoice(m["bistrot"], m["slot"], {m["carrots"].id: 3, m["juice"].id: 1,
                                                        m["eggs"].id: 1})
    assert first.producer_id == m["farm_a"].id
    assert first.total_cents == 3 * 350 + 420
    return first


def sign_out(form_post):
    form_post("/logout", {}, page="/")


def post_event(client, app, payload: bytes):
    header = sign_payload(payload, app.config["STRIPE_WEBHOOK_SECRET"])
    return client.post("/stripe/webhook", data=payload,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})


def card_payment(db, invoice_id) -> InvoicePayment | None:
    db.session.expire_all()
    return db.session.scalar(select(InvoicePayment).where(InvoicePayment.invoice_id == invoice_id))


def paid_at(db, invoice_id):
    db.session.expire_all()
    return db.session.get(Invoice, invoice_id).paid_at


def ledger(db) -> dict[str, tuple[LedgerKind, int]]:
    db.session.expire_all()
    return {e.entry_key: (e.kind, e.amount_cents) for e in db.session.scalars(select(LedgerEntry))}


def started(client, db, login, market, invoice) -> InvoicePayment:
    """The restaurant signed in, its invoice's card payment started."""
    login(market["bistrot"])
    response = pages.start_invoice_payment(client, invoice.id)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/restaurant/invoices/{invoice.id}/pay")
    return card_payment(db, invoice.id)


def pay_at_stripe(app, localstripe, payment, number=CARD_OK):
    """Pay the invoice's intent at Stripe without telling the site (a lost webhook)."""
    intent = gateway.confirm_payment_intent(app.config, payment.intent_id,
                                            payment_method=localstripe.card(number),
                                            idempotency_key=f"test-{payment.intent_id}")
    assert intent["status"] == "succeeded"
    return json.loads(str(intent))


# Paying ------------------------------------------------------------------------------------

def test_webhook_pays_the_invoice_once_with_one_sale_and_one_commission(
        app, client, db, login, localstripe, market, invoice):
    login(market["bistrot"])
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    assert 'id="pay-invoice-button"' in page
    assert "Still due: €14.70." in page
    # A tampered amount sent along is ignored: the server computes what is due.
    response = pages.start_invoice_payment(client, invoice.id, amount="1", amount_cents="1")
    assert response.status_code == 303
    pay_page = client.get(response.headers["Location"])
    assert pay_page.status_code == 200
    html = pay_page.get_data(as_text=True)
    assert localstripe.js_url in html
    assert 'data-cents="1470"' in html
    assert f'action="/restaurant/invoices/{invoice.id}/pay/confirm"' in html
    payment = card_payment(db, invoice.id)
    assert (payment.amount_cents, payment.status) == (1470, PaymentStatus.CREATED)
    intent = gateway.retrieve_payment_intent(app.config, payment.intent_id)
    assert intent["amount"] == 1470
    assert intent["metadata"]["invoice_id"] == str(invoice.id)
    # Coming back before paying changes nothing.
    assert client.get(f"/restaurant/invoices/{invoice.id}/pay/return").status_code == 303
    assert paid_at(db, invoice.id) is None

    paid = pay_at_stripe(app, localstripe, payment)
    assert paid_at(db, invoice.id) is None  # only Stripe's word, received, pays it
    payload = event_payload("payment_intent.succeeded", paid, event_id="evt_invoice_once")
    first = post_event(client, app, payload)
    assert first.status_code == 200
    assert first.json["outcome"] == "invoice_paid"
    assert paid_at(db, invoice.id) is not None
    payment = card_payment(db, invoice.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.succeeded_at is not None
    expected = {f"invoice-sale:{invoice.id}": (LedgerKind.SALE, 1470),
                f"invoice-commission:{invoice.id}": (LedgerKind.COMMISSION, -147)}
    assert ledger(db) == expected
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.SALE))
    assert (entry.producer_id, entry.sub_order_id, entry.order_id) == (
        market["farm_a"].id, invoice.sub_order_id, invoice.order_id)

    # The same event again, another event for the same intent, the buyer coming back:
    # nothing more.
    assert post_event(client, app, payload).json["outcome"] == "duplicate"
    again = event_payload("payment_intent.succeeded", paid)
    assert post_event(client, app, again).json["outcome"] == "unchanged"
    back = client.get(f"/restaurant/invoices/{invoice.id}/pay/return")
    assert back.status_code == 303
    assert ledger(db) == expected
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 2
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    # The amount paid is named, not only the date.
    assert re.search(r"€\d+\.\d\d paid by card on", page)
    assert 'id="pay-invoice-button"' not in page


def test_paying_through_the_page_then_the_return_url(app, client, db, login, localstripe,
                                                     market, invoice):
    started(client, db, login, market, invoice)
    answer = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_OK))
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["outcome"]) == ("succeeded", "invoice_paid")
    response = client.get(f"/restaurant/invoices/{invoice.id}/pay/return")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Payment received: invoice F-000001 is paid." in page
    assert paid_at(db, invoice.id) is not None
    assert len(ledger(db)) == 2


def test_3d_secure_then_return_pays_from_a_server_side_retrieve(
        client, db, login, localstripe, market, invoice):
    payment = started(client, db, login, market, invoice)
    answer = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_3DS))
    assert answer.json["status"] == "requires_action"
    assert card_payment(db, invoice.id).status == PaymentStatus.REQUIRES_ACTION
    localstripe.authenticate(payment.intent_id, payment.client_secret, success=True)
    assert paid_at(db, invoice.id) is None
    assert client.get(f"/restaurant/invoices/{invoice.id}/pay/return").status_code == 303
    assert paid_at(db, invoice.id) is not None
    assert len(ledger(db)) == 2


def test_double_click_makes_one_intent_and_one_charge(app, client, db, login, localstripe,
                                                      market, invoice):
    first = started(client, db, login, market, invoice)
    assert pages.start_invoice_payment(client, invoice.id).status_code == 303  # the double click
    assert client.get(f"/restaurant/invoices/{invoice.id}/pay").status_code == 200  # reload
    assert db.session.scalar(select(func.count(InvoicePayment.id))) == 1
    assert card_payment(db, invoice.id).intent_id == first.intent_id
    method = localstripe.card(CARD_OK)
    assert pages.confirm_invoice_payment(client, invoice.id, method).status_code == 200
    # The same card twice.
    assert pages.confirm_invoice_payment(client, invoice.id, method).status_code == 200
    intents = list(gateway.list_payment_intents_since(app.config, 0))
    assert [i["id"] for i in intents] == [first.intent_id]
    assert paid_at(db, invoice.id) is not None
    assert len(ledger(db)) == 2


def test_a_declined_card_leaves_the_invoice_unpaid_and_can_be_retried(
        client, db, login, localstripe, market, invoice):
    started(client, db, login, market, invoice)
    answer = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_DECLINED))
    assert answer.status_code == 402
    assert "declined" in answer.json["error"]
    assert paid_at(db, invoice.id) is None
    assert card_payment(db, invoice.id).status == PaymentStatus.FAILED
    page = client.get(f"/restaurant/invoices/{invoice.id}/pay").get_data(as_text=True)
    assert "The last attempt did not go through" in page
    assert ledger(db) == {}
    answer = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_OK))
    assert answer.status_code == 200
    assert answer.json["outcome"] == "invoice_paid"
    assert paid_at(db, invoice.id) is not None


def test_an_intent_canceled_at_stripe_is_replaced_when_the_restaurant_pays_again(
        app, client, db, login, localstripe, market, invoice):
    old_id = started(client, db, login, market, invoice).intent_id
    canceled = json.loads(str(gateway.cancel_payment_intent(app.config, old_id)))
    assert post_event(client, app, event_payload("payment_intent.canceled",
                                                 canceled)).json["outcome"] == "canceled"
    assert card_payment(db, invoice.id).status == PaymentStatus.CANCELED
    # The pay page sends back to the invoice, whose button starts a new intent.
    assert client.get(f"/restaurant/invoices/{invoice.id}/pay").status_code == 302
    assert pages.start_invoice_payment(client, invoice.id).status_code == 303
    new = card_payment(db, invoice.id)
    assert new.intent_id != old_id
    assert new.status == PaymentStatus.CREATED
    assert pages.confirm_invoice_payment(client, invoice.id,
                                         localstripe.card()).json["outcome"] == "invoice_paid"
    assert gateway.retrieve_payment_intent(app.config, old_id)["status"] == "canceled"
    assert len(ledger(db)) == 2


# What is due --------------------------------------------------------------------------------

def test_amount_due_deducts_credit_notes_even_after_the_intent_was_made(
        app, client, db, login, localstripe, market, invoice):
    carrots_line = invoice.lines[0]
    invoices.credit_note(db.session, invoice, now=now(), quantities={carrots_line.id: 1},
                         reason="Une botte abîmée")
    db.session.commit()
    login(market["bistrot"])
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    assert "Still due: €11.20." in page
    assert pages.start_invoice_payment(client, invoice.id).status_code == 303
    payment = card_payment(db, invoice.id)
    assert payment.amount_cents == 1120
    assert gateway.retrieve_payment_intent(app.config, payment.intent_id)["amount"] == 1120
    # Another credit note while the restaurant is on the pay page: it pays what is due now.
    invoices.credit_note(db.session, db.session.get(Invoice, invoice.id), now=now(),
                         quantities={carrots_line.id: 1})
    db.session.commit()
    page = client.get(f"/restaurant/invoices/{invoice.id}/pay").get_data(as_text=True)
    assert 'data-cents="770"' in page
    answer = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_OK))
    assert answer.json["outcome"] == "invoice_paid"
    assert int(gateway.retrieve_payment_intent(app.config, payment.intent_id)["amount"]) == 770
    assert card_payment(db, invoice.id).amount_cents == 770
    assert ledger(db) == {f"invoice-sale:{invoice.id}": (LedgerKind.SALE, 770),
                          f"invoice-commission:{invoice.id}": (LedgerKind.COMMISSION, -77)}


def test_a_fully_credited_invoice_offers_no_payment(client, db, login, localstripe, market,
                                                    invoice):
    invoices.credit_note(db.session, invoice, now=now())
    db.session.commit()
    login(market["bistrot"])
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    assert 'id="pay-invoice-button"' not in page
    response = pages.start_invoice_payment(client, invoice.id)
    assert response.status_code == 409
    assert "Nothing is due on this invoice." in response.get_data(as_text=True)
    assert card_payment(db, invoice.id) is None


def test_an_amount_that_does_not_match_pays_nothing(app, client, db, login, localstripe,
                                                   market, invoice):
    payment = started(client, db, login, market, invoice)
    paid = pay_at_stripe(app, localstripe, payment)
    wrong = dict(paid, amount=100, amount_received=100)
    response = post_event(client, app, event_payload("payment_intent.succeeded", wrong))
    assert response.json["outcome"] == "amount_mismatch"
    assert paid_at(db, invoice.id) is None
    payment = card_payment(db, invoice.id)
    assert payment.status != PaymentStatus.SUCCEEDED
    assert "amount 100" in payment.last_error
    assert ledger(db) == {}


# Who may pay, and when ---------------------------------------------------------------------

@pytest.mark.parametrize("who", ["other_restaurant", "household", "farm"])
def test_only_the_invoices_buyer_reaches_its_payment(client, db, login, form_post, localstripe,
                                                     market, invoice, who):
    login({"other_restaurant": lambda: market["cantine"],
           "household": lambda: factories.user(),
           "farm": lambda: market["farm_a"].user}[who]())
    token = CSRF_RE.search(client.get("/").get_data(as_text=True))
    data = {"csrf_token": token.group(1) if token else "", "payment_method": "pm_x"}
    base = f"/restaurant/invoices/{invoice.id}/pay"
    assert client.post(base, data=data).status_code == 404
    assert client.get(base).status_code == 404
    assert client.post(f"{base}/confirm", data=data).status_code == 404
    assert client.get(f"{base}/return").status_code == 404
    assert db.session.scalar(select(func.count(InvoicePayment.id))) == 0


def test_a_credit_note_cannot_be_paid(client, db, login, localstripe, market, invoice):
    note = invoices.credit_note(db.session, invoice, now=now(),
                                quantities={invoice.lines[0].id: 1})
    db.session.commit()
    login(market["bistrot"])
    page = client.get(f"/restaurant/invoices/{note.id}").get_data(as_text=True)
    assert 'id="pay-invoice-button"' not in page
    token = CSRF_RE.search(page).group(1)
    assert client.post(f"/restaurant/invoices/{note.id}/pay",
                       data={"csrf_token": token}).status_code == 404


def test_a_paid_invoice_refuses_a_new_card_payment(client, db, login, form_post, localstripe,
                                                   market, invoice):
    login(market["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    assert form_post(f"{url}/paid", {}, page=url).status_code == 303
    sign_out(form_post)
    login(market["bistrot"])
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    assert 'id="pay-invoice-button"' not in page
    token = CSRF_RE.search(page).group(1)
    response = client.post(f"/restaurant/invoices/{invoice.id}/pay", data={"csrf_token": token})
    assert response.status_code == 409
    assert "already paid" in response.get_data(as_text=True)
    assert card_payment(db, invoice.id) is None
    assert client.get(f"/restaurant/invoices/{invoice.id}/pay").status_code == 302
    assert list(gateway.list_payment_intents_since(client.application.config, 0)) == []


# The farm marks the invoice paid by hand ---------------------------------------------------

def test_farm_marks_paid_while_a_card_payment_is_open_cancels_it_first(
        app, client, db, login, form_post, localstripe, market, invoice):
    payment = started(client, db, login, market, invoice)
    assert pages.confirm_invoice_payment(client, invoice.id,
                                         localstripe.card(CARD_DECLINED)).status_code == 402
    sign_out(form_post)
    login(market["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    assert "has started paying this invoice by card" in client.get(url).get_data(as_text=True)
    response = form_post(f"{url}/paid", {}, page=url)
    assert response.status_code == 303
    assert gateway.retrieve_payment_intent(app.config, payment.intent_id)["status"] == "canceled"
    assert paid_at(db, invoice.id) is not None
    assert card_payment(db, invoice.id).status == PaymentStatus.CANCELED
    assert ledger(db) == {}  # the farm was paid directly: the platform holds nothing
    # The restaurant's open page can no longer pay, and no new payment starts.
    sign_out(form_post)
    login(market["bistrot"])
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    answer = client.post(f"/restaurant/invoices/{invoice.id}/pay/confirm",
                         data={"csrf_token": token, "payment_method": localstripe.card()})
    assert answer.json == {"status": "done"}
    assert client.post(f"/restaurant/invoices/{invoice.id}/pay",
                       data={"csrf_token": token}).status_code == 409
    # A late event about the canceled intent changes nothing.
    canceled = json.loads(str(gateway.retrieve_payment_intent(app.config, payment.intent_id)))
    late = post_event(client, app, event_payload("payment_intent.canceled", canceled))
    assert late.json["outcome"] == "unchanged"
    assert card_payment(db, invoice.id).status == PaymentStatus.CANCELED


def test_farm_marks_paid_after_the_card_payment_went_through(
        app, client, db, login, form_post, localstripe, market, invoice):
    payment = started(client, db, login, market, invoice)
    pay_at_stripe(app, localstripe, payment)  # the webhook is lost
    sign_out(form_post)
    login(market["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    response = form_post(f"{url}/paid", {}, page=url)
    assert response.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "was paid by card by the restaurant" in page
    assert "paid by card on" in page
    assert card_payment(db, invoice.id).status == PaymentStatus.SUCCEEDED
    assert gateway.retrieve_payment_intent(app.config, payment.intent_id)["status"] == \
        "succeeded"
    assert len(ledger(db)) == 2


def test_farm_cannot_mark_paid_while_stripe_is_unreachable(
        app, client, db, login, form_post, localstripe, market, invoice):
    payment = started(client, db, login, market, invoice)
    sign_out(form_post)
    login(market["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    token = CSRF_RE.search(client.get(url).get_data(as_text=True)).group(1)
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        response = client.post(f"{url}/paid", data={"csrf_token": token})
    finally:
        app.config["STRIPE_API_BASE"] = localstripe.base_url
    assert response.status_code == 409
    assert "cannot be reached" in response.get_data(as_text=True)
    assert paid_at(db, invoice.id) is None
    assert card_payment(db, invoice.id).status == PaymentStatus.CREATED
    intent = gateway.retrieve_payment_intent(app.config, payment.intent_id)
    assert intent["status"] == "requires_payment_method"
    # The restaurant can still pay.
    sign_out(form_post)
    login(market["bistrot"])
    assert pages.confirm_invoice_payment(client, invoice.id,
                                         localstripe.card()).json["outcome"] == "invoice_paid"


def test_mark_paid_refuses_an_open_card_payment(app, db, localstripe, market, invoice):
    """The rule itself: the route cancels first; a payment started in between stops it."""
    with app.test_request_context():
        intent = payments.create_invoice_intent(invoice.id, 1470, "EUR", app.config)
        invoice_payments.store_invoice_intent(db.session, invoice, intent)
        db.session.commit()
        with pytest.raises(invoices.InvoiceError) as caught:
            invoices.mark_paid(db.session, invoice, now=now())
        assert caught.value.code == invoices.CARD_PAYMENT_OPEN
        db.session.rollback()
    assert paid_at(db, invoice.id) is None


# Webhooks, concurrency, reconcile ----------------------------------------------------------

@pytest.mark.parametrize("tamper", ["body", "secret", "old"])
def test_untrusted_webhooks_get_400_and_change_nothing(app, client, db, login, localstripe,
                                                       market, invoice, tamper):
    payment = started(client, db, login, market, invoice)
    payload = event_payload("payment_intent.succeeded", pay_at_stripe(app, localstripe, payment))
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
    assert paid_at(db, invoice.id) is None
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 0
    assert ledger(db) == {}


def test_an_unknown_intent_is_still_unknown(app, client, db, localstripe, invoice):
    intent = {"id": "pi_not_ours", "object": "payment_intent", "status": "succeeded",
              "amount": 1470, "currency": "eur", "metadata": {"invoice_id": str(invoice.id)}}
    response = post_event(client, app, event_payload("payment_intent.succeeded", intent))
    assert response.json["outcome"] == "unknown"
    assert paid_at(db, invoice.id) is None


def test_concurrent_webhook_and_retrieve_apply_the_payment_once(
        app, client, db, login, localstripe, market, invoice):
    payment = started(client, db, login, market, invoice)
    paid = pay_at_stripe(app, localstripe, payment)
    n = 4
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=60)
                try:
                    with write_intent():
                        outcomes.append(payments.apply_intent(db.session, paid, app.config,
                                                              now=now()))
                        db.session.commit()
                finally:
                    db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(outcomes) == ["invoice_paid"] + ["unchanged"] * (n - 1)
    db.session.rollback()
    assert len(ledger(db)) == 2


def test_reconcile_pays_an_invoice_whose_webhook_was_lost(app, client, db, login, localstripe,
                                                          market, invoice, monkeypatch):
    payment = started(client, db, login, market, invoice)
    pay_at_stripe(app, localstripe, payment)
    # The intent may be older than the window Stripe is asked about: the open invoice
    # payments are retrieved one by one too.
    monkeypatch.setattr(gateway, "list_payment_intents_since", lambda config, since: iter(()))
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "invoice_paid=1" in result.output
    assert paid_at(db, invoice.id) is not None
    assert len(ledger(db)) == 2
    again = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "nothing to do" in again.output


def test_connect_transfer_pays_the_farm_for_an_invoice_paid_by_card(
        app, client, db, login, localstripe, market, invoice):
    """The sub-order of an order on invoice, once its invoice is paid by card and the
    goods collected, is due to the farm like a card order's."""
    from marketplace.orders.models import OrderStatus, SubOrder

    started(client, db, login, market, invoice)
    assert pages.confirm_invoice_payment(client, invoice.id,
                                         localstripe.card()).json["outcome"] == "invoice_paid"
    # Handed over (fulfilment.mark_collected wants order.paid_at, which an order on
    # invoice never gets: its sub-orders are paid invoice by invoice).
    db.session.get(SubOrder, invoice.sub_order_id).status = OrderStatus.COLLECTED
    db.session.commit()
    due = payments.transfers_due(db.session)
    assert [(sub.id, net) for sub, net, _account in due] == []  # no Connect account yet
    market["farm_a"].stripe_account_id = "acct_farmA"
    db.session.commit()
    [(sub, net, account)] = payments.transfers_due(db.session)
    assert (sub.id, net, account) == (invoice.sub_order_id, 1470 - 147, "acct_farmA")
    assert sub.status == OrderStatus.COLLECTED



# A credit note after a card payment -----------------------------------------------------

def test_a_credit_note_after_a_card_payment_refunds_the_card_once(
        app, client, db, login, form_post, localstripe, market, invoice):
    from marketplace.payments.models import Refund, RefundStatus

    started(client, db, login, market, invoice)
    answer = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_OK))
    assert answer.json["outcome"] == "invoice_paid"
    payment = card_payment(db, invoice.id)
    sign_out(form_post)
    login(market["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    juice = next(line for line in invoice.lines if line.unit_price_cents == 420)
    carrots = next(line for line in invoice.lines if line.unit_price_cents == 350)
    response = form_post(f"{url}/credit-note", {f"qty-{juice.id}": "1", "reason": "Cassé"},
                         page=url)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "goes back to its card" in page
    db.session.expire_all()
    refund = db.session.scalar(select(Refund))
    assert refund.invoice_payment_id == payment.id
    assert refund.amount_cents == 420
    assert refund.status == RefundStatus.SUCCEEDED  # sent to localstripe after the commit
    assert refund.stripe_refund_id
    # Stripe's own record: the refund is on the invoice's intent.
    stripe_refund = gateway.retrieve_refund(app.config, refund.stripe_refund_id)
    assert stripe_refund["amount"] == 420
    intent = gateway.retrieve_payment_intent(app.config, payment.intent_id)
    assert stripe_refund["charge"] == intent["charges"]["data"][0]["id"]
    # The farm's ledger: the sale, its commission, the refund and the commission back.
    entries = ledger(db)
    assert entries[f"refund:{refund.id}:{invoice.sub_order_id}"] == (LedgerKind.REFUND, -420)
    assert entries[f"commission-refund:{refund.id}:{invoice.sub_order_id}"][1] > 0
    # The rest credited: refunded up to what was paid, never more.
    response = form_post(f"{url}/credit-note", {"whole": "1", "reason": "Tout"}, page=url)
    assert response.status_code == 303
    db.session.expire_all()
    amounts = sorted(r.amount_cents for r in db.session.scalars(select(Refund)))
    assert amounts == [420, 3 * 350]
    assert sum(amounts) == payment.amount_cents
    assert carrots.quantity == 3
    # The admin's payments page lists the invoice's card payment and what went back.
    from marketplace.accounts.models import Role

    sign_out(form_post)
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/payments").get_data(as_text=True)
    row = page[page.index(f'data-invoice="{invoice.id}"'):]
    row = row[:row.index("</tr>")]
    assert "F-000001" in row
    assert row.count("€14.70") == 2  # paid, and refunded in full


def test_a_credit_note_on_an_unpaid_invoice_refunds_nothing(
        client, db, login, form_post, localstripe, market, invoice):
    from marketplace.payments.models import Refund

    login(market["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    response = form_post(f"{url}/credit-note", {"whole": "1", "reason": "Erreur"}, page=url)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    assert invoices.balance_cents(db.session, db.session.get(Invoice, invoice.id)) == 0
