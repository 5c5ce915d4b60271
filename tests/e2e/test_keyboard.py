"""With the keyboard alone: home → market day → catalogue → product → cart → checkout →
order, each step reached by Tab and taken by Enter, every element Tab stops on
showing where the focus is."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.orders.models import Order
from tests import factories
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
MAX_TABS = 120
# What the focused element shows: an outline or a ring (Bootstrap draws its focus
# rings of buttons and fields as a box-shadow).
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {html: e.outerHTML.slice(0, 120), visible: outlined || style.boxShadow !== 'none'};
}"""


def _seed(app):
    with app.app_context():
        point = factories.pickup_point("Épicerie Le Relais", commune="Vannes")
        slot = factories.slot(point, starts_in=timedelta(days=3))
        farm = factories.producer(name="Ferme du Pont")
        factories.delivery_round(farm, slot)
        carrots = factories.product(farm, name="Carottes des sables")
        buyer = factories.user(name="Camille")
        return slot.id, carrots.id, buyer.email


def _tab_to(page, selector: str, unseen: list[str]) -> None:
    """Press Tab until the element SELECTOR matches has the focus, noting in UNSEEN
    every element on the way whose focus cannot be seen."""
    target = page.locator(selector).first
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus and not focus["visible"]:
            unseen.append(f"{page.url}: {focus['html']}")
        if target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"{selector} not reached by Tab on {page.url}")


def test_a_household_orders_with_the_keyboard_alone_and_always_sees_the_focus(
        e2e_server, browser_page):
    slot_id, carrots_id, email = _seed(e2e_server.app)
    page = browser_page
    sign_in(page, email)
    unseen: list[str] = []

    page.goto("/")
    _tab_to(page, "a.home-market-day", unseen)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/market-day"))

    _tab_to(page, f"form:has(input[name=slot_id][value='{slot_id}']) button", unseen)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/catalogue$"))
    expect(page.locator(".market-day-current")).to_contain_text("Épicerie Le Relais")

    _tab_to(page, f"a[href='/products/{carrots_id}']", unseen)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/products/{carrots_id}$"))

    _tab_to(page, "form[action='/cart/add'] button", unseen)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto("/cart")
    expect(page.locator("main")).to_contain_text("Carottes des sables")

    _tab_to(page, "main a[href='/checkout']", unseen)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/checkout$"))

    _tab_to(page, "form[action='/checkout'] button.btn-success", unseen)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    assert unseen == [], "\n".join(unseen)
    with e2e_server.app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert order.pickup_slot_id == slot_id


def test_the_menu_on_a_wide_screen_has_no_serious_accessibility_violation(
        e2e_server, browser_page):
    """The crawl of every page runs on a phone, where the menu is folded away; here it
    is open, on the theme's green."""
    *_, email = _seed(e2e_server.app)
    page = browser_page
    sign_in(page, email)
    page.goto("/")
    # Evaluated by the browser tools, not as a <script> the page's CSP would refuse.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate("""async () => (await axe.run('header', {
        resultTypes: ['violations']})).violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(' | '))""")
    assert violations == []
