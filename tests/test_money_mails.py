"""What the buyer is told about their money, read from the e-mails that reach the
local SMTP server: the ready e-mail after a short, the cancellation of a paid order,
a refund of its own (one e-mail per refund), and the confirmation page a cancel
goes through."""

from __future__ import annotations

import pytest
from babel.numbers import format_currency
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import fulfilment
from marketplace.orders import services as orders
from marketplace.orders.models import Actor, Order, OrderStatus, PaymentMethod
from marketplace.payments import services as payments
from marketplace.payments import signals as payment_signals
from marketplace.payments.models import Refund
from marketplace.sqlite import write_intent
from tests import factories
from tests.clock import now

DELAY = {"fr": "sous 5 à 10 jours ouvrés", "en": "within 5 to 10 working days"}


@pytest.fixture
def market(hosted_market):
    """The hosted market, with lettuces at 1,20 € from Ferme A."""
    lettuce = factories.product(hosted_market["farm"], name="Salade",
                                variants=(("pièce", 120, 50),))
    return {**hosted_market, "lettuce": lettuce.variants[0]}


def euros(cents: int, lang: str) -> str:
    return format_currency(cents / 100, "EUR", locale=lang)


def speaking(db, buyer, locale: str | None) -> str:
    """The buyer's language: None is the site's default, French."""
    buyer.locale = locale
    db.session.commit()
    return locale or "fr"


def farm_a_part(order: Order):
    return next(sub for sub in order.sub_orders if sub.producer.name == "Ferme A")


def mark_ready(app, db, sub, shorts: dict | None = None) -> None:
    with write_intent():
        fulfilment.mark_ready(db.session, sub, now=now(), config=app.config, shorts=shorts)
        db.session.commit()


def sections(body: str, lang: str) -> tuple[str, str]:
    """(what is ready, what is missing and after) of a ready e-mail."""
    missing = {"fr": "Manquants", "en": "Missing"}[lang]
    ready, _sep, rest = body.partition(missing)
    return ready, rest


@pytest.mark.parametrize("locale", [None, "en"])
def test_ready_email_after_a_short_lists_ready_missing_and_refund(
        app, db, mailbox, localstripe, market, locale):
    m = market
    lang = speaking(db, m["buyers"][0], locale)
    order = factories.confirmed_card_order(
        app, localstripe, m, cart={m["lettuce"].id: 3, m["carrots"].id: 1, m["eggs"].id: 1})
    sub = farm_a_part(order)
    lettuce_line = next(line for line in sub.lines if line.product_name == "Salade")
    mailbox.clear()

    mark_ready(app, db, sub, {lettuce_line.id: 1})

    # One e-mail: the short's refund is stated in the ready e-mail, not in one of its own.
    [mail] = mailbox.wait_for(1)
    assert len(mailbox) == 1
    body = mail.get_content()
    ready, missing = sections(body, lang)
    assert "2 × Salade (pièce)" in ready
    assert euros(240, lang) in ready
    assert "1 × Carottes (1 kg)" in ready
    assert "3 × Salade" not in body
    assert "1 × Salade (pièce)" in missing
    assert "Carottes" not in missing
    assert euros(120, lang) in missing
    assert DELAY[lang] in missing
    assert "Œufs" not in body  # Ferme B's part is not ready
    if lang == "fr":
        assert "1,20 €" in body.replace("\N{NO-BREAK SPACE}", " ")
    else:
        assert "€1.20" in body
    assert db.session.scalar(select(func.count(Refund.id))) == 1


def test_ready_email_of_an_order_paid_at_pickup_says_what_is_left_to_pay(
        app, db, mailbox, market):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["lettuce"].id: 3, m["eggs"].id: 1})
    mailbox.clear()
    # Ferme B first, nothing missing: the whole order, 3 lettuces and the eggs.
    mark_ready(app, db, next(sub for sub in order.sub_orders if sub != farm_a_part(order)))
    first = mailbox.wait_for(1)[0].get_content()
    assert f"toute votre commande\u00a0: {euros(360 + 597, 'fr')}" in first
    assert "Manquants" not in first
    sub = farm_a_part(order)
    mark_ready(app, db, sub, {sub.lines[0].id: 1})
    body = mailbox.wait_for(2)[1].get_content()
    _ready, missing = sections(body, "fr")
    assert "1 × Salade (pièce)" in missing
    assert "ne sont pas facturés" in missing
    # 2 lettuces and the eggs, 8,37 €, at the counter; nothing is refunded.
    assert euros(240 + 597, "fr") in missing
    assert "rembours" not in body
    assert DELAY["fr"] not in body


@pytest.mark.parametrize("locale", [None, "en"])
def test_cancelling_a_paid_order_asks_first_naming_the_refund(
        app, client, db, login, form_post, mailbox, localstripe, market, locale):
    m = market
    buyer = m["buyers"][0]
    lang = speaking(db, buyer, locale)
    order = factories.confirmed_card_order(app, localstripe, m)  # 2 carrots, eggs: 12,97 €
    mailbox.clear()
    login(buyer)
    url = f"/orders/{order.id}/cancel"
    # The order page's button leads to the confirmation page, which names the refund.
    assert f'href="{url}"' in client.get(f"/orders/{order.id}").get_data(as_text=True)
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert euros(1297, lang) in html
    assert DELAY[lang] in html
    assert f'href="/orders/{order.id}"' in html  # keep my order
    # Without the form's CSRF token: refused, nothing cancelled.
    assert client.post(url, data={"confirm": "1"}).status_code == 400
    # The form without "confirm" (an old page's one-click button) only asks.
    asked = form_post(url, {}, page=url)
    assert asked.status_code == 200
    assert euros(1297, lang) in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED
    assert len(mailbox) == 0

    done = form_post(url, {"confirm": "1"}, page=url)
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    # One e-mail: the cancellation, stating the refund (no refund e-mail beside it).
    [mail] = mailbox.wait_for(1)
    assert len(mailbox) == 1
    body = mail.get_content()
    assert euros(1297, lang) in body
    assert DELAY[lang] in body
    assert {"fr": "Cette annulation vous rembourse",
            "en": "This cancellation refunds"}[lang] in body


def test_cancelling_an_order_paid_at_pickup_says_nothing_is_charged(
        app, client, db, login, form_post, mailbox, market, english):
    m = market
    order = factories.order(m["buyers"][1], m["slot"], {m["carrots"].id: 1})
    mailbox.clear()
    login(m["buyers"][1])
    url = f"/orders/{order.id}/cancel"
    html = client.get(url).get_data(as_text=True)
    assert "Nothing was charged" in html
    assert "refunded" not in html
    assert form_post(url, {"confirm": "1"}, page=url).status_code == 303
    body = mailbox.wait_for(1)[0].get_content()
    assert "Rien n’a été débité." in body  # the buyer reads French
    assert DELAY["fr"] not in body


def test_admin_partial_refund_sends_one_email_per_refund(
        app, client, db, login, form_post, mailbox, localstripe, market):
    m = market
    order = factories.confirmed_card_order(app, localstripe, m)
    mailbox.clear()
    login(factories.user(Role.ADMIN))
    url = f"/admin/payments/orders/{order.id}/refund"
    done = form_post(url, {"amount": "2,50", "reason": "Salade abîmée"}, page="/admin/payments")
    assert done.status_code == 303
    [mail] = mailbox.wait_for(1)
    body = mail.get_content()
    assert euros(250, "fr") in mail["Subject"]
    assert str(order.id) in mail["Subject"]
    assert euros(250, "fr") in body
    assert "Salade abîmée" in body
    assert DELAY["fr"] in body
    # An order-wide refund needs no "for: your order" line: the first sentence says it.
    assert "Pour" not in body
    # The same refund announced again (an event applied twice): still one e-mail.
    refund = db.session.scalar(select(Refund))
    with write_intent():
        payment_signals.refund_recorded.send(refund, session=db.session,
                                             config=app.config, now=now())
        db.session.commit()
    assert len(mailbox) == 1
    # Another refund is another e-mail.
    assert form_post(url, {"amount": "1", "reason": "Geste"},
                     page="/admin/payments").status_code == 303
    assert euros(100, "fr") in mailbox.wait_for(2)[1].get_content()
    assert db.session.scalar(select(func.count(OutboxMessage.id))
                             .where(OutboxMessage.dedupe_key.like("refund:%"))) == 2


def test_a_short_after_the_ready_email_is_told_once(app, db, mailbox, localstripe, market):
    m = market
    lang = speaking(db, m["buyers"][0], "en")
    order = factories.confirmed_card_order(app, localstripe, m, cart={m["lettuce"].id: 3})
    sub = farm_a_part(order)
    mark_ready(app, db, sub)
    mailbox.clear()

    mark_ready(app, db, sub, {sub.lines[0].id: 1})
    mark_ready(app, db, sub, {sub.lines[0].id: 1})  # the same form sent twice

    [mail] = mailbox.wait_for(1)
    assert len(mailbox) == 1
    body = mail.get_content()
    assert "€1.20" in mail["Subject"]
    assert "1 × Salade (pièce) from Ferme A, which the farm could not supply" in body
    assert DELAY[lang] in body
    assert "Reason" not in body  # "short" is ours, not a reason to show


def test_a_payment_after_expiry_is_refunded_with_an_email(app, db, mailbox, localstripe,
                                                          market):
    m = market
    order = factories.card_order(m)
    intent = factories.paid_intent(app, localstripe, order)
    with write_intent():
        orders.cancel(order, Actor.SYSTEM, now(), session=db.session, config=app.config)
        db.session.commit()
    [cancelled] = mailbox.wait_for(1)
    assert "Rien n’a été débité." in cancelled.get_content()
    assert order.payment_method == PaymentMethod.CARD
    with app.test_request_context(), write_intent():
        assert payments.apply_intent(db.session, intent, app.config, now=now()) == "refund_late"
        db.session.commit()
    refund_mail = mailbox.wait_for(2)[1]
    body = refund_mail.get_content()
    assert euros(1297, "fr") in body
    assert "déjà annulée" in body
