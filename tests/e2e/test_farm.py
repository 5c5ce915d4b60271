"""An approved producer signs in, adds a product through the form, and sees it for sale;
places the farm on the profile's map."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.catalogue.models import ALL_MONTHS, Product
from marketplace.extensions import db
from marketplace.geo.gazetteer import load_gazetteer
from marketplace.producers.models import Producer
from tests import factories
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

PRICE_3_50 = re.compile(r"3,50\s*€")  # French format; the space is a no-break one


def test_producer_adds_a_product_that_reaches_the_catalogue(e2e_server, browser_page):
    app = e2e_server.app
    with app.app_context():
        farm = factories.producer(name="Ferme des Trois Chênes", approved=True)
        farm_id, email = farm.id, farm.user.email
        fruit_id = factories.category("fruit").id
    page = browser_page
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/farm$"))

    page.goto("/farm/products/new")
    page.fill("#name", "Pommes Boskoop")
    page.select_option("#category_id", value=str(fruit_id))
    months = page.locator("input[name=months]")
    expect(months).to_have_count(12)
    for i in range(12):
        expect(months.nth(i)).to_be_checked()
    page.fill("#variant-label", "Sac de 2 kg")
    page.fill("#variant-price", "3,50")
    page.fill("#variant-stock", "12")
    page.locator("form:has(#variant-label) [type=submit]").click()

    # Saved: the browser is sent to the product's edit page.
    expect(page).to_have_url(re.compile(r"/farm/products/\d+$"))
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.name == "Pommes Boskoop"))
        assert product is not None
        assert product.producer_id == farm_id
        assert product.category_id == fruit_id
        assert product.season_months == ALL_MONTHS
        assert product.is_active
        [variant] = product.variants
        assert (variant.label, variant.price_cents, variant.stock) == ("Sac de 2 kg", 350, 12)

    page.goto("/farm/products/")
    row = page.locator("table tbody tr", has_text="Pommes Boskoop")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sac de 2 kg")
    expect(row).to_contain_text(PRICE_3_50)

    # The farm is approved, so the product is on the public catalogue at once.
    page.goto("/catalogue")
    card = page.locator(".product-card", has_text="Pommes Boskoop")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Ferme des Trois Chênes")
    expect(card).to_contain_text(PRICE_3_50)


@pytest.mark.parametrize("width", [390, 800, 1024, 1280])
def test_farm_pages_never_scroll_sideways(e2e_server, browser_page, width):
    """A farm's menu has more entries than a household's: it wraps, at every width."""
    with e2e_server.app.app_context():
        email = factories.producer(name="Ferme des Trois Chênes").user.email
    page = browser_page
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, email)
    for path in ("/farm", "/farm/orders", "/farm/ledger"):
        page.goto(path)
        scroll_width, inner_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll_width <= inner_width, (path, width, scroll_width)


def _coordinates(page):
    return float(page.input_value("#latitude")), float(page.input_value("#longitude"))


def test_the_farm_moves_its_pin_on_a_phone(e2e_server, phone_page):
    """At 390 px: the profile's map shows the farm's pin; dragging it, or typing in the
    coordinate fields, changes the coordinates saved."""
    app = e2e_server.app
    with app.app_context():
        load_gazetteer(db.session, departments={"56"})
        db.session.commit()
        farm = factories.producer(name="Ferme du Lindin", commune="Elven")
        farm_id, email = farm.id, farm.user.email
    page = phone_page
    sign_in(page, email)
    page.goto("/farm/profile")

    pin = page.locator("#farm-map .leaflet-marker-icon")
    expect(page.locator("#farm-map")).to_be_visible()
    expect(pin).to_have_count(1)
    expect(pin).to_be_visible()
    expect(page.locator("#farm-place")).to_have_text("Elven (56), 47.73, -2.59")
    # The map has the pin; the coordinate fields wait, folded, one tap away.
    expect(page.locator("#latitude")).to_be_hidden()
    assert _coordinates(page) == (47.7325, -2.5894)
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width

    pin.scroll_into_view_if_needed()
    box = pin.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=8)
    page.mouse.up()
    dragged = _coordinates(page)
    # Down and to the right: south-east.
    assert dragged[0] < 47.7325
    assert dragged[1] > -2.5894
    expect(page.locator("#farm-place")).not_to_have_text("Elven (56), 47.73, -2.59")

    page.locator("form:has(#latitude) [type=submit][name=submit]").click()
    expect(page).to_have_url(re.compile(r"/farm$"))
    with app.app_context():
        saved = db.session.get(Producer, farm_id)
        assert (saved.latitude, saved.longitude) == pytest.approx(dragged, abs=1e-6)

    # By hand: the fields move the pin (the map follows it), and are saved.
    page.goto("/farm/profile")
    expect(pin).to_be_visible()
    page.locator("#farm-coordinates summary").click()
    page.fill("#latitude", "47.7480")
    page.locator("#latitude").press("Tab")
    expect(page.locator("#farm-place")).to_contain_text("47.75, ")
    page.locator("form:has(#latitude) [type=submit][name=submit]").click()
    expect(page).to_have_url(re.compile(r"/farm$"))
    with app.app_context():
        saved = db.session.get(Producer, farm_id)
        assert saved.latitude == 47.748
        assert saved.longitude == pytest.approx(dragged[1], abs=1e-6)
