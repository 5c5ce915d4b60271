"""A pickup host, relay of its point, registers a neighbour without e-mail (a bad phone
number first), keys a paper order in with the keyboard and opens the receipt."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.orders.models import Order
from marketplace.pickup.models import PickupKind
from tests import factories
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e


def _village(app) -> tuple[str, dict[str, int]]:
    with app.app_context():
        host = factories.user(Role.HOST, name="Mairie d'Elven")
        point = factories.pickup_point("Mairie d'Elven", kind=PickupKind.TOWN_HALL,
                                       at=(47.733, -2.59), host=host)
        slot = factories.slot(point, capacity=10)
        farm = factories.producer(name="Ferme du Pont")
        leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 100),))
        factories.product(farm, name="Pommes", variants=(("1 kg", 350, 100),))
        factories.delivery_round(farm, slot)
        db.session.commit()
        return host.email, {"leeks": leeks.variants[0].id}


def test_relay_registers_a_neighbour_keys_an_order_in_and_prints_the_receipt(
        e2e_server, browser_page):
    email, ids = _village(e2e_server.app)
    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    sign_in(page, email)

    page.goto("/relay")
    page.locator("main").get_by_role("link", name="Mairie d'Elven").click()
    page.locator("a.register-neighbour").click()
    page.fill("#display_name", "Odette Le Goff")
    page.fill("#phone", "12 34")
    page.check("#consent")
    page.locator("form.neighbour-form [type=submit]").click()
    expect(page.locator("#phone-error")).to_contain_text("numéro de téléphone valide")
    expect(page.locator("#display_name")).to_have_value("Odette Le Goff")
    page.fill("#phone", "0612345678")
    page.locator("form.neighbour-form [type=submit]").click()
    expect(page.locator(".neighbour-details")).to_contain_text("06 12 34 56 78")

    page.locator("a.order-for").click()
    find = page.locator("#relay-find")
    find.fill("poir")
    expect(page.locator(".relay-line:not([hidden])")).to_have_count(1)
    find.press("Enter")
    quantity = page.locator(f"#q-{ids['leeks']}")
    expect(quantity).to_be_focused()
    quantity.type("3")
    quantity.press("Enter")  # back to "Find" for the next line
    expect(find).to_be_focused()
    expect(page.locator(".relay-line:not([hidden])")).to_have_count(2)
    page.locator("button.relay-place").click()

    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    receipt = page.locator(".relay-receipt")
    expect(receipt).to_contain_text("Commandé par Mairie d'Elven pour Odette Le Goff")
    expect(receipt).to_contain_text("Poireaux")
    expect(page.locator(".receipt-total")).to_contain_text("8,40")
    expect(page.locator(".js-print")).to_be_visible()
    assert not errors
    with e2e_server.app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert order.placed_by_id is not None
        assert order.buyer_id != order.placed_by_id
