"""What the buyer's pages and e-mails say of their money agrees: the cancellation
e-mail states what the cancellation itself refunds, the cancel page names every
payment going back (an invoice paid by card too), the order page shows what is
charged after missing units with what was paid, refunded (with readable labels) and
kept, and payment states count refunds."""

from __future__ import annotations

import re

import pytest
from babel.numbers import format_currency
from flask_babel import ngettext
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.notifications import orders as notify
from marketplace.ordered_signals import OrderedSignal
from marketplace.orders import fulfilment, signals
from marketplace.orders.models import Order, PaymentMethod
from marketplace.payments import services as payments
from marketplace.payments.models import Refund
from marketplace.sqlite import write_intent
from tests import factories, pages
from tests.clock import now
from tests.stripe_server import CARD_OK


def euros(cents: int, lang: str = "fr") -> str:
    return format_currency(cents / 100, "EUR", locale=lang)


def text(html: str) -> str:
    """Page or e-mail text, tags dropped, spaces (no-break ones too) made plain."""
    plain = re.sub(r"<[^>]+>", " ", html).replace("\N{NO-BREAK SPACE}", " ")
    return re.sub(r"\s+", " ", plain.replace("\N{NARROW NO-BREAK SPACE}", " "))


def plain(amount: str) -> str:
    return amount.replace("\N{NO-BREAK SPACE}", " ")


def line_with(body: str, needle: str) -> str:
    return next(line for line in body.splitlines() if needle in line)


@pytest.fixture
def market(hosted_market):
    lettuce = factories.product(hosted_market["farm"], name="Salade",
                                variants=(("pièce", 120, 50),))
    return {**hosted_market, "lettuce": lettuce.variants[0]}


def sign_in_as(client, login, user) -> None:
    """Another person on the same browser, reading French (the site's language)."""
    with client.session_transaction() as session:
        session.clear()
    login(user)


def cancellation_mail(mailbox, order):
    """The buyer's cancellation e-mail, among what the cancellation sent."""
    for count in range(1, 5):
        found = [m for m in mailbox.wait_for(count)
                 if m["Subject"] == f"Commande {order.id} annulée"]
        if found:
            return found[0]
    raise AssertionError("no cancellation e-mail")


def mark_ready(app, db, sub, shorts=None) -> None:
    with write_intent():
        fulfilment.mark_ready(db.session, sub, now=now(), config=app.config, shorts=shorts)
        db.session.commit()


def test_cancelling_after_admin_refunds_states_what_the_cancellation_refunds(
        app, client, db, login, form_post, mailbox, localstripe, market):
    m = market
    buyer = m["buyers"][0]
    order = factories.confirmed_card_order(app, localstripe, m)  # 12,97 €
    login(factories.user(Role.ADMIN))
    url = f"/admin/payments/orders/{order.id}/refund"
    assert form_post(url, {"amount": "2,50", "reason": "Salade abîmée"},
                     page="/admin/payments").status_code == 303
    admin_page = text(client.get("/admin/payments").get_data(as_text=True))
    assert "Partiellement remboursée" in admin_page
    mailbox.wait_for(1)
    mailbox.clear()

    sign_in_as(client, login, buyer)
    cancel = f"/orders/{order.id}/cancel"
    assert plain(euros(1047)) + " vous seront remboursés" in text(
        client.get(cancel).get_data(as_text=True))
    assert form_post(cancel, {"confirm": "1"}, page=cancel).status_code == 303
    [mail] = mailbox.wait_for(1)
    body = plain(mail.get_content())
    assert plain(euros(1047)) in line_with(body, "Cette annulation vous rembourse")
    assert plain(euros(250)) in line_with(body, "Déjà remboursé")
    assert plain(euros(1297)) not in line_with(body, "Cette annulation")

    page = text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert "Remboursée" in page
    assert "Payée par carte" not in page  # the state counts the refunds
    assert "commande annulée" in page
    assert "Salade abîmée" in page
    assert f"Payé, remboursements déduits {plain(euros(0))}" in page

    sign_in_as(client, login, factories.user(Role.ADMIN, email="admin2@example.org"))
    admin = client.get("/admin/payments").get_data(as_text=True)
    row = text(admin[admin.index(f'id="order-{order.id}"'):])
    assert ">Remboursé<" in admin
    assert "Réussi" not in row.split("</tr>")[0]
    assert "commande annulée" in row


def test_a_restaurants_cancel_page_names_its_invoice_paid_by_card(
        app, client, db, login, form_post, mailbox, localstripe, invoice_market):
    m = invoice_market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 3})
    (invoice,) = factories.invoices_of(order)
    login(m["bistrot"])
    # On invoice, not yet paid: the page says so, with the due date.
    page = text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert "Sur facture, à régler avant le" in page
    assert pages.start_invoice_payment(client, invoice.id).status_code == 303
    assert pages.confirm_invoice_payment(
        client, invoice.id, localstripe.card(CARD_OK)).json["outcome"] == "invoice_paid"
    # The invoice's page names the amount paid.
    invoice_page = text(client.get(f"/restaurant/invoices/{invoice.id}").get_data(as_text=True))
    assert f"{plain(euros(1050))} payés par carte le" in invoice_page
    mailbox.clear()

    cancel = f"/orders/{order.id}/cancel"
    page = text(client.get(cancel).get_data(as_text=True))
    assert f"{plain(euros(1050))} vous seront remboursés" in page
    assert "Rien n’a été débité" not in page
    assert form_post(cancel, {"confirm": "1"}, page=cancel).status_code == 303
    (refund,) = db.session.scalars(select(Refund)).all()
    assert (refund.amount_cents, refund.invoice_payment_id is not None) == (1050, True)
    mail = cancellation_mail(mailbox, order)
    assert plain(euros(1050)) in line_with(plain(mail.get_content()),
                                           "Cette annulation vous rembourse")
    page = text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert re.search(r"· avoir A-\d+", page)
    assert "credit note" not in page


def test_order_page_and_emails_agree_after_missing_units(
        app, client, db, login, mailbox, localstripe, market):
    m = market
    buyer = m["buyers"][0]
    order = factories.confirmed_card_order(
        app, localstripe, m, cart={m["lettuce"].id: 3, m["eggs"].id: 1})  # 3,60 + 5,97
    sub = next(s for s in order.sub_orders if s.producer.name == "Ferme A")
    line = sub.lines[0]
    mailbox.clear()
    mark_ready(app, db, sub, {line.id: 1})
    [ready] = mailbox.wait_for(1)
    assert plain(ready["Subject"]) == f"Commande {order.id} : Ferme A a préparé vos produits"
    mailbox.clear()
    # One more lettuce missing, after the ready e-mail: its own refund e-mail says what
    # this refund covers.
    mark_ready(app, db, sub, {line.id: 2})
    [mail] = mailbox.wait_for(1)
    body = plain(mail.get_content())
    assert plain(euros(120)) in plain(mail["Subject"])
    assert "1 unité manquante de plus de Salade (pièce) de Ferme A (2 en tout)" in body
    assert "Motif" not in body

    login(buyer)
    page = text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    # The lettuce line: 3 ordered, 2 missing, 1,20 € charged; Ferme A's part and the
    # order after the missing units; what was paid, refunded and kept.
    lettuce = page[page.index("Salade"):page.index("Sous-total pour Ferme A")]
    assert plain(euros(120)) in lettuce
    assert f"Sous-total pour Ferme A {plain(euros(120))}" in page
    assert f"unités manquantes déduites {plain(euros(120 + 597))}" in page
    assert f"Débité sur votre carte {plain(euros(957))}" in page
    assert "Partiellement remboursée" in page
    assert page.count("unités manquantes ") >= 2  # each refund, labelled
    assert f"Payé, remboursements déduits {plain(euros(717))}" in page

    # The reminder's lines agree: the units charged and the total after them.
    with app.test_request_context(), write_intent():
        notify.order_reminder(db.session, db.session.get(Order, order.id))
        db.session.commit()
    reminder = plain(mailbox.wait_for(2)[1].get_content())
    assert f"1 × Salade (pièce) : {plain(euros(120))} (2 manquants sur 3, non facturés)" \
        in reminder
    assert f"unités manquantes déduites : {plain(euros(717))}" in reminder


def test_a_credit_note_refund_reads_as_a_credit_note(
        app, client, db, login, form_post, mailbox, localstripe, invoice_market):
    m = invoice_market
    order = factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 4},
                                       PaymentMethod.CARD)
    intent = factories.paid_intent(app, localstripe, order)
    with app.test_request_context():
        assert payments.apply_intent(db.session, intent, app.config, now=now()) == "confirmed"
        db.session.commit()
    (invoice,) = factories.invoices_of(order)
    mailbox.clear()
    login(m["farm_a"].user)
    url = f"/farm/invoices/{invoice.id}"
    line = invoice.lines[0]
    assert form_post(f"{url}/credit-note", {f"qty-{line.id}": "1", "reason": "Abîmée"},
                     page=url).status_code == 303
    mails = mailbox.wait_for(2)
    # The refund e-mail, and the credit note itself in one of its own, as a PDF.
    [mail] = [m for m in mails if not m.is_multipart()]
    [document] = [m for m in mails if m.is_multipart()]
    assert document["Subject"].startswith("Avoir A-")
    reason = line_with(mail.get_content(), "Motif")
    assert re.search(r"avoir A-\d+ \(Abîmée\)", reason)  # the farm's reason too
    assert "credit note" not in reason

    sign_in_as(client, login, m["cantine"])
    page = text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert re.search(r"avoir A-\d+", page)
    assert "unités manquantes" not in page
    assert "credit note" not in page


def test_farm_messages_count_units_in_french(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert ngettext("Order %(number)s is ready, with %(num)d missing unit: the buyer is "
                        "told.", "Order %(number)s is ready, with %(num)d missing units: the "
                        "buyer is told.", 1, number=12).startswith(
            "La commande 12 est prête, avec 1 unité manquante")
        assert ngettext("%(num)d missing", "%(num)d missing", 2) == "2 manquants"


def test_receivers_run_in_the_order_they_were_connected(app):
    """Money first, then documents, then the e-mail that tells of both: the cancellation
    e-mail sees the refunds whatever the memory layout of the process."""
    modules = [receiver.__module__ for receiver in
               signals.order_cancelled.receivers_for(object())]
    assert modules == ["marketplace.payments.receivers", "marketplace.wholesale.receivers",
                       "marketplace.notifications.receivers"]
    calls = []
    signal = OrderedSignal("test-order")
    receivers = [lambda _s, n=n: calls.append(n) for n in range(20)]
    for receiver in receivers:
        signal.connect(receiver)
    signal.send(None)
    assert calls == list(range(20))
