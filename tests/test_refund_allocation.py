"""Refunds respect each farm: an order-wide refund is spread over what each farm's part
still has refundable, one named on a farm or a line never takes more than is left
there, and an amount above that is refused with what is still refundable for which
farm, in the reader's language (never clamped, never a 500)."""

from __future__ import annotations

import pytest
from flask import current_app
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.orders import fulfilment
from marketplace.orders.models import SubOrder
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import LedgerEntry, LedgerKind, Refund, RefundStatus
from marketplace.payments.services.refunds import allocate, refundable_by_farm
from tests import factories
from tests.clock import now

NBSP = "\u00a0"


@pytest.fixture
def market(hosted_market):
    """The hosted market, with Ferme B also selling radishes at 1,20 €."""
    radishes = factories.product(hosted_market["other_farm"], name="Radis",
                                 variants=(("botte", 120, 50),))
    return {**hosted_market, "radishes": radishes.variants[0]}


@pytest.fixture
def order(app, localstripe, market):
    """Paid by card: 2 carrots from Ferme A (7,00 €), radishes from Ferme B (1,20 €)."""
    m = market
    return factories.confirmed_card_order(app, localstripe, m,
                                          cart={m["carrots"].id: 2, m["radishes"].id: 1})


def _sub(order, farm) -> SubOrder:
    return next(sub for sub in order.sub_orders if sub.producer_id == farm.id)


def _refunded_by_farm(db, order) -> dict[int, int]:
    return {farm: -int(total) for farm, total in db.session.execute(
        select(LedgerEntry.producer_id, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.order_id == order.id, LedgerEntry.kind == LedgerKind.REFUND)
        .group_by(LedgerEntry.producer_id))}


def _refund(db, order, cents, **named):
    refund = payments.request_refund(db.session, order, cents, current_app.config,
                                     reason="test", now=now(), **named)
    db.session.commit()
    return refund


def _message(exc_info, locale: str) -> str:
    with force_locale(locale):
        return str(exc_info.value.message).replace(NBSP, " ").replace("\u202f", " ")


def test_a_farm_refunded_in_full_takes_no_share_of_a_later_partial_refund(db, market, order):
    m = market
    radish_line = _sub(order, m["other_farm"]).lines[0]
    # Ferme B has no radishes: its whole part (1,20 €) goes back to the card.
    fulfilment.set_shorts(db.session, _sub(order, m["other_farm"]), {radish_line.id: 1},
                          now=now(), config=current_app.config)
    db.session.commit()
    # The admin refunds 1,40 € of the order: all of it from Ferme A, the only farm with
    # anything left to refund (before, Ferme B gave back 1,40 € of a 1,20 € sale).
    _refund(db, order, 140)
    assert _refunded_by_farm(db, order) == {m["other_farm"].id: 120, m["farm"].id: 140}
    left = dict((sub.producer_id, cents) for sub, cents in refundable_by_farm(db.session, order))
    assert left == {m["farm"].id: 560, m["other_farm"].id: 0}
    # The commission given back never exceeds what was taken on Ferme B's sale.
    b = {kind: int(total) for kind, total in db.session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.producer_id == m["other_farm"].id).group_by(LedgerEntry.kind))}
    assert b[LedgerKind.COMMISSION_REFUND] == -b[LedgerKind.COMMISSION]
    assert sum(b.values()) == 0


def test_an_order_wide_refund_is_spread_by_what_each_farm_has_left(db, market, order):
    m = market
    _refund(db, order, 100)  # 7,00 € and 1,20 €: 85 and 15 (largest remainder)
    assert _refunded_by_farm(db, order) == {m["farm"].id: 85, m["other_farm"].id: 15}
    _refund(db, order, 820 - 100)  # the rest: each farm gives back exactly what it sold
    assert _refunded_by_farm(db, order) == {m["farm"].id: 700, m["other_farm"].id: 120}
    assert payments.refundable_cents(db.session, order) == 0


def test_a_refund_named_on_a_farm_stays_on_that_farm(db, market, order):
    m = market
    _refund(db, order, 120, sub_order=_sub(order, m["other_farm"]))
    assert _refunded_by_farm(db, order) == {m["other_farm"].id: 120}
    with pytest.raises(payments.RefundError) as refused:
        _refund(db, order, 1, sub_order=_sub(order, m["other_farm"]))
    assert _message(refused, "en") == "At most €0.00 can still be refunded for Ferme B."
    db.session.rollback()
    with pytest.raises(payments.RefundError) as refused:
        _refund(db, order, 701, sub_order=_sub(order, m["farm"]))
    assert _message(refused, "fr") == ("Au plus 7,00 € peuvent encore être remboursés "
                                       "pour Ferme A.")


def test_a_refund_named_on_a_line_never_takes_more_than_the_line(db, market, order):
    m = market
    line = _sub(order, m["farm"]).lines[0]  # 2 carrots, 7,00 €
    _refund(db, order, 350, line=line)
    assert _refunded_by_farm(db, order) == {m["farm"].id: 350}
    with pytest.raises(payments.RefundError) as refused:
        _refund(db, order, 351, line=line)
    assert _message(refused, "en") == \
        "At most €3.50 can still be refunded for Carottes (Ferme A)."
    assert _message(refused, "fr") == \
        "Au plus 3,50 € peuvent encore être remboursés pour Carottes (Ferme A)."


def test_too_much_is_refused_naming_what_each_farm_has_left(db, market, order):
    m = market
    _refund(db, order, 480, sub_order=_sub(order, m["farm"]))
    with pytest.raises(payments.RefundError) as refused:
        _refund(db, order, 341)
    assert _message(refused, "fr") == ("Au plus 3,40 € peuvent encore être remboursés : "
                                       "Ferme A 2,20 €, Ferme B 1,20 €.")
    assert _message(refused, "en") == ("At most €3.40 can still be refunded: "
                                       "Ferme A €2.20, Ferme B €1.20.")
    db.session.rollback()
    _refund(db, order, 340)
    with pytest.raises(payments.RefundError) as refused:
        _refund(db, order, 1)
    assert _message(refused, "en") == "Nothing can still be refunded on this order."
    assert _message(refused, "fr") == "Plus rien ne peut être remboursé sur cette commande."


def test_a_refused_refund_does_not_count(db, market, order, monkeypatch):
    m = market

    def refuse(*args, **kwargs):
        raise gateway.PaymentGatewayError("no", unreachable=False, user_message="no")

    monkeypatch.setattr(gateway, "create_refund", refuse)
    _refund(db, order, 120, sub_order=_sub(order, m["other_farm"]))
    payments.send_pending_refunds(db.session, current_app.config, now=now())
    db.session.commit()
    assert db.session.scalar(select(Refund.status)) == RefundStatus.FAILED
    monkeypatch.undo()
    # Refused by Stripe: Ferme B's part can be refunded again, in full.
    _refund(db, order, 120, sub_order=_sub(order, m["other_farm"]))
    assert _refunded_by_farm(db, order) == {m["other_farm"].id: 120}


def test_a_short_line_on_a_farm_refunded_already_is_refused_with_the_reason(
        db, market, order):
    m = market
    sub = _sub(order, m["farm"])
    _refund(db, order, 600, sub_order=sub)
    with pytest.raises(fulfilment.FulfilmentError) as refused:
        fulfilment.set_shorts(db.session, sub, {sub.lines[0].id: 1}, now=now(),
                              config=current_app.config)
    assert _message(refused, "en") == \
        "At most €1.00 can still be refunded for Carottes (Ferme A)."
    db.session.rollback()
    assert _refunded_by_farm(db, order) == {m["farm"].id: 600}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=5), st.data())
def test_allocation_adds_up_and_stays_within_each_part(left, data):
    subs = [object() for _ in left]
    amount = data.draw(st.integers(0, sum(left)))
    shares = dict(allocate(amount, list(zip(subs, left, strict=True))))
    assert sum(shares.values()) == amount
    for sub, cents in zip(subs, left, strict=True):
        share = shares.get(sub, 0)
        assert 0 <= share <= cents
        # Proportional to what is left, within a cent.
        if sum(left):
            assert abs(share - amount * cents / sum(left)) < 1


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "At most €8.20 can still be refunded: Ferme A €7.00, Ferme B €1.20."),
    ("fr", "Au plus 8,20 € peuvent encore être remboursés : Ferme A 7,00 €, Ferme B 1,20 €."),
])
def test_the_admin_page_refuses_too_much_with_a_400_and_keeps_what_was_typed(
        client, db, login, form_post, market, order, lang, expected):
    login(factories.user(Role.ADMIN))
    with client.session_transaction() as session:
        session["lang"] = lang
    url = f"/admin/payments/orders/{order.id}/refund"
    response = form_post(url, {"amount": "8,21", "reason": "Colis abîmé"},
                         page="/admin/payments")
    assert response.status_code == 400
    html = response.get_data(as_text=True).replace(NBSP, " ").replace("\u202f", " ")
    assert expected in html
    assert 'value="8,21"' in html
    assert 'value="Colis abîmé"' in html
    assert db.session.scalar(select(func.count(Refund.id))) == 0


def test_the_admin_chooses_the_farm_of_a_partial_refund(client, db, login, form_post,
                                                       market, order, english):
    m = market
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/payments").get_data(as_text=True)
    b = _sub(order, m["other_farm"])
    assert f'<option value="{b.id}">Ferme B</option>' in page
    url = f"/admin/payments/orders/{order.id}/refund"
    too_much = form_post(url, {"amount": "2", "reason": "x", "sub_order": str(b.id)},
                         page="/admin/payments")
    assert too_much.status_code == 400
    html = too_much.get_data(as_text=True)
    assert "can still be refunded for Ferme B" in html
    assert f'<option value="{b.id}" selected>' in html
    other = factories.card_order(m, 1)
    wrong = form_post(url, {"amount": "1", "reason": "x",
                            "sub_order": str(other.sub_orders[0].id)}, page="/admin/payments")
    assert wrong.status_code == 400
    assert "Choose one of this order" in wrong.get_data(as_text=True)
    done = form_post(url, {"amount": "1,20", "reason": "Radis flétris", "sub_order": str(b.id)},
                     page="/admin/payments")
    assert done.status_code == 303
    assert _refunded_by_farm(db, order) == {m["other_farm"].id: 120}

