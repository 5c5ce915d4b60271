"""On a phone: home → where and when (a market day) → cart → order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.orders.models import Order
from tests import factories
from tests.e2e.conftest import PHONE_VIEWPORT
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e


def _seed(app):
    with app.app_context():
        point = factories.pickup_point("Épicerie Le Relais", commune="Vannes")
        slot = factories.slot(point, starts_in=timedelta(days=3))
        farm = factories.producer(name="Ferme du Pont")
        factories.delivery_round(farm, slot)
        carrots = factories.product(farm, name="Carottes des sables")
        elsewhere = factories.producer(name="Verger lointain")
        factories.product(elsewhere, name="Pommes reinettes")
        buyer = factories.user(name="Camille")
        return slot.id, carrots.id, buyer.email


def _fits(page) -> None:
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert inner_width == PHONE_VIEWPORT["width"]
    assert scroll_width <= inner_width, f"{page.url} scrolls sideways on a phone"


def test_a_household_chooses_its_market_day_then_orders_on_a_phone(e2e_server, phone_page):
    slot_id, carrots_id, email = _seed(e2e_server.app)
    page = phone_page
    sign_in(page, email)

    page.goto("/")
    page.locator("a.home-market-day").click()
    expect(page).to_have_url(re.compile(r"/market-day"))
    _fits(page)
    page.locator(f"form:has(input[name=slot_id][value='{slot_id}']) button").click()

    # The catalogue shows what can be collected there that day; the header says where.
    expect(page).to_have_url(re.compile(r"/catalogue$"))
    expect(page.locator(".market-day-current")).to_contain_text("Épicerie Le Relais")
    expect(page.locator(".product-card .card-title")).to_have_text(["Carottes des sables"])
    _fits(page)

    page.goto(f"/products/{carrots_id}")
    page.locator("form[action='/cart/add'] button").first.click()
    page.goto("/cart")
    expect(page.locator(".cart-market-day")).to_contain_text("Épicerie Le Relais")
    _fits(page)
    page.locator("a[href='/checkout']").last.click()

    # Checkout confirms the market day: no list of slots.
    expect(page.locator(".market-day-confirm")).to_contain_text("Épicerie Le Relais")
    expect(page.locator(".pickup-choice")).to_have_count(0)
    _fits(page)
    page.check("#pay-at-pickup")
    page.locator("form[action='/checkout'] button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    _fits(page)
    with e2e_server.app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert order.pickup_slot_id == slot_id
