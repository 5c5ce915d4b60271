"""A household pays an order by card through the payment page, against localstripe
(its Stripe.js stand-in in the page, its API behind the server), and sees it confirmed.
The order is confirmed by the server asking localstripe, not by the browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import current_app
from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.pickup.models import DeliveryRound, PickupKind, PickupPoint, PickupSlot
from marketplace.pickup.rounds import local_weekday
from tests import factories
from tests.clock import now
from tests.e2e.conftest import _open_page
from tests.e2e.pages import sign_in
from tests.stripe_server import CARD_3DS, CARD_OK

pytestmark = pytest.mark.e2e


def _card_order(app) -> tuple[int, str]:
    with app.app_context():
        start = now()
        point = PickupPoint(name="Épicerie", kind=PickupKind.SHOP, latitude=47.6582,
                            longitude=-2.7608)
        db.session.add(point)
        db.session.flush()
        slot = PickupSlot(pickup_point_id=point.id, starts_at=start + timedelta(days=3),
                          ends_at=start + timedelta(days=3, hours=2),
                          cutoff_at=start + timedelta(days=1), capacity=10, taken=0)
        db.session.add(slot)
        farm = factories.producer(name="Ferme du Pont")
        carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 10),))
        db.session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                     weekday=local_weekday(slot, "Europe/Paris")))
        buyer = factories.user(name="Camille")
        order = orders.checkout(db.session, buyer=buyer,
                                cart={str(carrots.variants[0].id): 2}, slot_id=slot.id,
                                now=start, payment_method=PaymentMethod.CARD,
                                hold=timedelta(minutes=30), config=current_app.config)
        db.session.commit()
        return order.id, buyer.email


def _pay(page, order_id: int, email: str, number: str) -> None:
    sign_in(page, email)
    page.goto(f"/orders/{order_id}/pay")
    _fill_card_and_pay(page, number)


def _fill_card_and_pay(page, number: str) -> None:
    # localstripe's card element: plain inputs named by their placeholders.
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("56000")
    page.locator("#pay-button").click()


@pytest.fixture
def page_on(request, chromium_browser, paying_server):
    yield from _open_page(request, chromium_browser, paying_server)


def test_household_pays_by_card_and_sees_the_order_confirmed(paying_server, page_on):
    order_id, email = _card_order(paying_server.app)
    page = page_on
    _pay(page, order_id, email, CARD_OK)
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))
    expect(page.locator(".order-status")).to_have_text("Confirmée")
    expect(page.locator(".payment-state")).to_contain_text("carte")
    with paying_server.app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == OrderStatus.CONFIRMED
        assert order.paid_at is not None


@pytest.mark.parametrize("answer", ["Complete authentication", "Fail authentication"])
def test_3d_secure_in_the_page(paying_server, page_on, answer):
    order_id, email = _card_order(paying_server.app)
    page = page_on
    _pay(page, order_id, email, CARD_3DS)
    # localstripe's stand-in for the bank's 3-D Secure challenge.
    page.get_by_role("button", name=answer).click()
    if answer.startswith("Complete"):
        expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))
        expect(page.locator(".order-status")).to_have_text("Confirmée")
        wanted = OrderStatus.CONFIRMED
    else:
        # Back on the payment page, nothing charged, free to try again.
        expect(page).to_have_url(re.compile(rf"/orders/{order_id}/pay$"))
        expect(page.locator("#pay-button")).to_be_enabled()
        expect(page.locator(".pay-failed")).to_contain_text("n’a pas abouti")
        wanted = OrderStatus.PENDING_PAYMENT
    with paying_server.app.app_context():
        assert db.session.get(Order, order_id).status == wanted


def _menu_opens_and_closes(page) -> None:
    """On a phone the menu folds behind the toggler; Bootstrap's collapse opens it."""
    menu = page.locator("#nav")
    toggler = page.locator(".navbar-toggler")
    expect(menu).to_be_hidden()
    toggler.click()
    # Opened once its transition is over (a click while it runs is ignored).
    expect(menu).to_have_class(re.compile(r"\bcollapse show\b"))
    expect(toggler).to_have_attribute("aria-expanded", "true")
    toggler.click()
    expect(menu).to_be_hidden()


def test_payment_pages_run_bootstrap_beside_the_stripe_js_stand_in(paying_server, page_on):
    """The stand-in is served in a scope of its own: its `class Element` no longer hides
    the DOM's, so Bootstrap's bundle loads without an error on the payment page and on
    the order page it leads to, and the menu works there."""
    order_id, email = _card_order(paying_server.app)
    page = page_on
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, email)

    page.goto(f"/orders/{order_id}/pay")
    expect(page.locator("#card-element input[placeholder=number]")).to_be_visible()
    assert page.evaluate("typeof window.Stripe") == "function"
    assert page.evaluate("Element === window.HTMLElement.__proto__") is True
    _menu_opens_and_closes(page)
    _fill_card_and_pay(page, CARD_OK)
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))
    expect(page.locator(".order-status")).to_have_text("Confirmée")
    _menu_opens_and_closes(page)

    assert errors == []
