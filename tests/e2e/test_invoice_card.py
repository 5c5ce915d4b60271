"""A restaurant with payment terms pays one of its invoices by card through the page,
against localstripe (its Stripe.js stand-in in the page, its API behind the server):
the invoice is paid from the server's own retrieve, never from the browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import current_app
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import PaymentMethod
from marketplace.payments.models import LedgerEntry
from marketplace.pickup.models import DeliveryRound, PickupKind, PickupPoint, PickupSlot
from marketplace.pickup.rounds import local_weekday
from marketplace.wholesale.invoice_models import Invoice
from tests import factories
from tests.clock import now
from tests.e2e.conftest import _open_page
from tests.e2e.pages import sign_in
from tests.stripe_server import CARD_DECLINED, CARD_OK

pytestmark = pytest.mark.e2e


def _invoice_on_terms(app) -> tuple[int, str]:
    with app.app_context():
        start = now()
        point = PickupPoint(name="Le Bistrot du Port", kind=PickupKind.RESTAURANT,
                            latitude=47.653, longitude=-2.756)
        db.session.add(point)
        db.session.flush()
        slot = PickupSlot(pickup_point_id=point.id, starts_at=start + timedelta(days=3),
                          ends_at=start + timedelta(days=3, hours=2),
                          cutoff_at=start + timedelta(days=1), capacity=10, taken=0)
        db.session.add(slot)
        farm = factories.producer(name="Ferme du Pont")
        leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 100),))
        db.session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                     weekday=local_weekday(slot, "Europe/Paris")))
        restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot", approved=True)
        factories.restaurant_profile(restaurant, commit=False)  # 30 days' terms
        db.session.commit()
        order = orders.checkout(db.session, buyer=restaurant,
                                cart={str(leeks.variants[0].id): 5}, slot_id=slot.id, now=start,
                                payment_method=PaymentMethod.INVOICE, config=current_app.config)
        db.session.commit()
        invoice = db.session.scalars(select(Invoice).where(Invoice.order_id == order.id)).one()
        assert invoice.paid_at is None
        return invoice.id, restaurant.email


@pytest.fixture
def page_on(request, chromium_browser, paying_server):
    yield from _open_page(request, chromium_browser, paying_server)


def _fill_card(page, number: str) -> None:
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("56000")
    page.locator("#pay-button").click()


def test_restaurant_pays_an_invoice_by_card(paying_server, page_on):  # noqa: F811
    invoice_id, email = _invoice_on_terms(paying_server.app)
    page = page_on
    sign_in(page, email)
    page.goto(f"/restaurant/invoices/{invoice_id}")
    page.locator("#pay-invoice-button").click()
    expect(page).to_have_url(re.compile(rf"/restaurant/invoices/{invoice_id}/pay$"))
    expect(page.locator(".invoice-due")).to_have_attribute("data-cents", "1400")

    # Declined: back on the payment page, nothing paid, free to try again.
    _fill_card(page, CARD_DECLINED)
    expect(page.locator("#pay-error")).not_to_be_empty()
    expect(page.locator("#pay-button")).to_be_enabled()
    with paying_server.app.app_context():
        assert db.session.get(Invoice, invoice_id).paid_at is None

    page.reload()
    expect(page.locator(".pay-failed")).to_be_visible()
    _fill_card(page, CARD_OK)
    expect(page).to_have_url(re.compile(rf"/restaurant/invoices/{invoice_id}$"))
    expect(page.locator("#pay-invoice-button")).to_have_count(0)
    with paying_server.app.app_context():
        assert db.session.get(Invoice, invoice_id).paid_at is not None
        keys = sorted(db.session.scalars(select(LedgerEntry.entry_key)))
        assert keys == [f"invoice-commission:{invoice_id}", f"invoice-sale:{invoice_id}"]
