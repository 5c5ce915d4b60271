"""Pages of each demo role fit a 360 px phone: tables wider than the screen scroll
inside their own box, and nothing (screen-reader labels included) widens the page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.catalogue.models import Product
from marketplace.extensions import db
from marketplace.pickup.models import PickupPoint
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

NARROW = {"width": 360, "height": 740}


@pytest.fixture
def demo_server(e2e_server):
    result = e2e_server.app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return e2e_server




def _too_wide(page, paths) -> list[tuple[str, int]]:
    wide = []
    for path in paths:
        response = page.goto(path)
        assert response.status < 400, (path, response.status)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW["width"]:
            wide.append((path, width))
    return wide


def test_pages_fit_a_narrow_phone(demo_server, chromium_browser):
    app = demo_server.app
    with app.app_context():
        product_id = db.session.scalar(select(Product.id).order_by(Product.id))
        point_id = db.session.scalar(select(PickupPoint.id).order_by(PickupPoint.id))
    roles = {
        ("admin@demo.circuit-court.fr", "demo-admin"): [
            "/admin/approvals", "/admin/payments", "/admin/payments/commission",
            "/admin/invoices/terms", f"/products/{product_id}"],
        ("host@demo.circuit-court.fr", "demo-host"): [f"/pickup/points/{point_id}"],
        ("ferme.lindin@demo.circuit-court.fr", "demo-producer"): [
            "/farm/invoices", "/farm/ledger"],
    }
    wide = []
    for (email, password), paths in roles.items():
        context = chromium_browser.new_context(base_url=demo_server.base_url, locale="fr-FR",
                                               viewport=NARROW, is_mobile=True, has_touch=True)
        page = context.new_page()
        try:
            sign_in(page, email, password)
            expect(page).not_to_have_url(re.compile(r"/login"))
            wide += _too_wide(page, paths)
        finally:
            context.close()
    assert wide == []


def test_a_products_add_to_cart_button_is_on_a_narrow_screen(demo_server, chromium_browser):
    """Inside a table that scrolls sideways the page stays narrow, but a button past the
    right edge is out of sight: the variants' buttons must be within the screen."""
    app = demo_server.app
    with app.app_context():
        product_id = db.session.scalar(select(Product.id).order_by(Product.id))
    context = chromium_browser.new_context(base_url=demo_server.base_url, locale="fr-FR",
                                           viewport=NARROW, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"/products/{product_id}?all=1")
        buttons = page.locator("main table button[type=submit]")
        assert buttons.count() > 0
        for index in range(buttons.count()):
            box = buttons.nth(index).bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= NARROW["width"]
    finally:
        context.close()
