"""A restaurant's invoices follow what happens to its order after confirmation:
units marked short and a cancelled order are credited by credit notes (never an edit),
money already paid goes back once, and an order paid at the counter pays its invoices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.orders import fulfilment
from marketplace.orders import services as orders
from marketplace.orders.models import Actor, CounterPayment, Order, PaymentMethod
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import Refund
from marketplace.wholesale import invoice_payments, invoices
from marketplace.wholesale.invoice_models import Invoice, InvoiceKind
from tests import factories, pages
from tests.clock import now
from tests.stripe_server import CARD_OK


@pytest.fixture
def market(invoice_market):
    """Two farms, a slot, two restaurants with terms."""
    return invoice_market


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


def notes_of(db, invoice) -> list[Invoice]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(Invoice).where(Invoice.credits_invoice_id == invoice.id).order_by(Invoice.id)))


def balance(db, invoice) -> int:
    db.session.expire_all()
    return invoices.balance_cents(db.session, db.session.get(Invoice, invoice.id))


def short(app, db, order, farm, units: dict):
    """The farm packs its part of the order with ``units`` (variant id -> units short)."""
    with app.test_request_context():
        sub = next(s for s in db.session.get(Order, order.id).sub_orders
                   if s.producer_id == farm.id)
        shorts = {line.id: units.get(line.variant_id, 0) for line in sub.lines}
        fulfilment.set_shorts(db.session, sub, shorts, now=now(), config=current_app.config)
        db.session.commit()


def refunds(db) -> list[Refund]:
    db.session.expire_all()
    return list(db.session.scalars(select(Refund).order_by(Refund.id)))


def test_short_units_on_an_order_on_invoice_are_credited_once(app, db, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2})
    (invoice, ) = factories.invoices_of(order)
    assert balance(db, invoice) == 3 * 350 + 2 * 420
    short(app, db, order, m["farm_a"], {m["carrots"].id: 2})
    (note,) = notes_of(db, invoice)
    assert note.kind == InvoiceKind.CREDIT_NOTE
    assert [(line.quantity, line.total_cents) for line in note.lines] == [(2, 700)]
    assert note.lines[0].order_line_id is not None
    assert note.reason == "Unités que la ferme n’a pas pu fournir."  # the site's language
    assert balance(db, invoice) == 350 + 2 * 420  # what the farm supplies
    # Packed again with the same units short: nothing more is credited.
    short(app, db, order, m["farm_a"], {m["carrots"].id: 2})
    assert len(notes_of(db, invoice)) == 1
    # One more unit short, and one juice: a second note for just those.
    short(app, db, order, m["farm_a"], {m["carrots"].id: 3, m["juice"].id: 1})
    first, second = notes_of(db, invoice)
    assert sorted((line.quantity, line.total_cents) for line in second.lines) == [
        (1, 350), (1, 420)]
    assert second.number == first.number + 1
    assert balance(db, invoice) == 420
    # Fewer units short afterwards: a credit note is final, nothing is credited back.
    short(app, db, order, m["farm_a"], {m["carrots"].id: 1})
    assert len(notes_of(db, invoice)) == 2
    assert balance(db, invoice) == 420
    # The farm can no longer credit those units by hand.
    line = next(ln for ln in invoice.lines if ln.unit_price_cents == 350)
    with pytest.raises(invoices.InvoiceError):
        invoices.credit_note(db.session, db.session.get(Invoice, invoice.id), now=now(),
                             quantities={line.id: 1})


def test_a_cancelled_order_is_credited_in_full_and_never_falls_due(app, db, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 1, m["eggs"].id: 2})
    first, second = factories.invoices_of(order)
    orders.cancel(db.session.get(Order, order.id), Actor.BUYER, now(), session=db.session,
                  config=app.config)
    db.session.commit()
    for invoice in (first, second):
        (note,) = notes_of(db, invoice)
        assert note.total_cents == invoice.total_cents
        assert note.reason == "Commande annulée."
        assert balance(db, invoice) == 0
    # Past its due date it is not overdue, and there is nothing to pay by card.
    for invoice in (first, second):
        db.session.get(Invoice, invoice.id).due_at = now() - timedelta(days=1)
    db.session.commit()
    assert invoices.overdue_invoices(db.session, now()) == []
    with pytest.raises(invoice_payments.InvoicePaymentError):
        invoice_payments.check_invoice_payable(db.session, db.session.get(Invoice, first.id))


def _paid_by_card(app, db, localstripe, order) -> Order:
    with app.test_request_context():
        payment = payments.start_card_payment(db.session, order, app.config)
        db.session.commit()
        intent = gateway.confirm_payment_intent(app.config, payment.intent_id,
                                                payment_method=localstripe.card(CARD_OK),
                                                idempotency_key=f"test-{order.id}")
        assert payments.apply_intent(db.session, intent, app.config, now=now()) == "confirmed"
        db.session.commit()
    return db.session.get(Order, order.id)


def credit_one_unit(login, form_post, farm, invoice):
    """The farm credits one unit of the invoice's first line by hand (bruised)."""
    login(farm.user)
    url = f"/farm/invoices/{invoice.id}"
    line = invoice.lines[0]
    response = form_post(f"{url}/credit-note", {f"qty-{line.id}": "1", "reason": "Abîmée"},
                         page=url)
    assert response.status_code == 303
    return response


def test_a_card_order_refunds_each_unit_once_whether_credited_or_short(
        app, client, db, login, form_post, localstripe, market):
    """The order was paid by card at checkout: its invoice is paid. Short units are
    refunded on the line and credited; a credit note the farm issues by hand is refunded
    on the order's payment too; units both credited and later marked short are refunded
    once."""
    m = market
    order = _paid_by_card(app, db, localstripe,
                          factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 4},
                                                     PaymentMethod.CARD))
    (invoice,) = factories.invoices_of(order)
    assert invoice.paid_at is not None
    short(app, db, order, m["farm_a"], {m["carrots"].id: 1})
    assert [r.amount_cents for r in refunds(db)] == [350]
    (note,) = notes_of(db, invoice)
    assert note.total_cents == 350
    # The farm credits one more carrot by hand (bruised): refunded on the card.
    response = credit_one_unit(login, form_post, m["farm_a"], invoice)
    assert "€3.50 goes back to its card" in client.get(response.location).get_data(
        as_text=True)
    assert [r.amount_cents for r in refunds(db)] == [350, 350]
    assert all(r.order_line_id == note.lines[0].order_line_id for r in refunds(db))
    # Then the farm marks that carrot short as well: refunded and credited already.
    short(app, db, order, m["farm_a"], {m["carrots"].id: 2})
    assert [r.amount_cents for r in refunds(db)] == [350, 350]
    assert len(notes_of(db, invoice)) == 2
    # Stripe holds exactly that.
    intent = gateway.retrieve_payment_intent(
        app.config, payments.payment_of(db.session, order).intent_id)
    assert sum(r["amount"] for r in intent["charges"]["data"][0]["refunds"]["data"]) == 700


def test_cancelling_a_card_order_refunds_it_once(app, db, localstripe, market):
    m = market
    order = _paid_by_card(app, db, localstripe,
                          factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 2},
                                                     PaymentMethod.CARD))
    (invoice,) = factories.invoices_of(order)
    orders.cancel(db.session.get(Order, order.id), Actor.BUYER, now(), session=db.session,
                  config=app.config)
    db.session.commit()
    assert [r.amount_cents for r in refunds(db)] == [700]  # the order's own refund only
    assert [n.total_cents for n in notes_of(db, invoice)] == [700]


def test_an_invoice_paid_by_card_is_refunded_for_short_units(
        app, client, db, login, localstripe, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 3})
    (invoice,) = factories.invoices_of(order)
    login(m["bistrot"])
    assert pages.start_invoice_payment(client, invoice.id).status_code == 303
    confirmed = pages.confirm_invoice_payment(client, invoice.id, localstripe.card(CARD_OK))
    assert confirmed.json["outcome"] == "invoice_paid"
    short(app, db, order, m["farm_a"], {m["carrots"].id: 1})
    (refund,) = refunds(db)
    assert refund.amount_cents == 350
    assert refund.invoice_payment_id is not None


def test_paid_at_the_counter_pays_the_invoices(app, db, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 1, m["eggs"].id: 1},
                                       PaymentMethod.AT_PICKUP)
    first, second = factories.invoices_of(order)
    for invoice in (first, second):
        db.session.get(Invoice, invoice.id).due_at = now() - timedelta(hours=1)
    db.session.commit()
    assert len(invoices.overdue_invoices(db.session, now())) == 2
    with app.test_request_context():
        fulfilment.mark_collected(db.session, db.session.get(Order, order.id), now=now(),
                                  paid_with=CounterPayment.CASH, config=current_app.config)
        db.session.commit()
    assert invoices.overdue_invoices(db.session, now()) == []
    assert db.session.scalar(select(func.count()).select_from(Invoice).where(
        Invoice.order_id == order.id, Invoice.paid_at.is_(None))) == 0
    # The check-off undone (ticked by mistake): due again.
    with app.test_request_context():
        fulfilment.undo_collected(db.session, db.session.get(Order, order.id), now=now())
        db.session.commit()
    assert len(invoices.overdue_invoices(db.session, now())) == 2


def test_an_invoice_paid_at_pickup_offers_no_card_payment(client, db, login, form_post,
                                                          localstripe, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 1},
                                       PaymentMethod.AT_PICKUP)
    (invoice,) = factories.invoices_of(order)
    login(m["bistrot"])
    page = client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True)
    assert "Still due" in page
    assert 'id="pay-invoice-button"' not in page
    response = pages.start_invoice_payment(client, invoice.id)  # the button's POST, sent anyway
    assert response.status_code == 409
    assert "paid at pickup" in response.get_data(as_text=True)
    assert payments.invoice_payment_of(db.session, invoice) is None


def test_a_credit_note_on_a_card_order_gives_back_only_what_is_left(
        app, client, db, login, form_post, localstripe, market):
    """An admin refunded farm A's whole part already (farm B's is untouched): farm A's
    credit note is issued (it corrects the invoice) but nothing more goes back to the
    card, neither from A's part nor from B's, and no error."""
    m = market
    order = _paid_by_card(app, db, localstripe, factories.restaurant_order(
        m["cantine"], m["slot"], {m["carrots"].id: 4, m["eggs"].id: 1}, PaymentMethod.CARD))
    invoice = next(i for i in factories.invoices_of(order)
                   if i.producer_id == m["farm_a"].id)
    sub = next(s for s in order.sub_orders if s.producer_id == m["farm_a"].id)
    payments.request_refund(db.session, order, sub.subtotal_cents, app.config, reason="admin",
                            now=now(), sub_order=sub)
    db.session.commit()
    credit_one_unit(login, form_post, m["farm_a"], invoice)
    assert len(notes_of(db, invoice)) == 1
    assert [r.amount_cents for r in refunds(db)] == [sub.subtotal_cents]


def test_a_credit_note_on_an_unpaid_invoice_tells_the_restaurant_what_is_left_to_pay(
        app, client, db, login, form_post, mailbox, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 4})
    (invoice,) = factories.invoices_of(order)
    db.session.commit()
    mailbox.clear()
    credit_one_unit(login, form_post, m["farm_a"], invoice)
    [mail] = mailbox.wait_for(1)
    (note,) = notes_of(db, invoice)
    assert mail["To"] == m["bistrot"].email
    # In the restaurant's language (French).
    assert mail["Subject"] == f"Commande {order.id}\u00a0: avoir {note.display_number}"
    body = mail.get_body(("plain",)).get_content()
    # The credit note itself comes with it.
    [pdf] = mail.iter_attachments()
    assert pdf.get_filename().startswith(note.display_number)
    assert pdf.get_payload(decode=True).startswith(b"%PDF")
    assert f"Ferme A a émis l’avoir {note.display_number} de 3,50\u00a0€" in body
    assert "Abîmée" in body
    assert "Reste à payer sur cette facture\u00a0: 10,50\u00a0€." in body
