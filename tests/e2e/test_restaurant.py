"""A restaurant signs in, fills the quick-order grid, places the order and downloads
the invoice PDF its farm issued on confirmation."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import SaleMode
from marketplace.extensions import db
from marketplace.orders.models import Order, OrderStatus
from marketplace.pickup.models import DeliveryRound, PickupKind, PickupPoint, PickupSlot
from marketplace.pickup.rounds import local_weekday
from marketplace.producers.models import Producer
from marketplace.wholesale.invoice_models import Invoice
from tests import factories
from tests.clock import now
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e


def _kitchen(app) -> tuple[str, int, dict[str, int]]:
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
        apples = factories.product(farm, name="Pommes", variants=(("caisse 6 kg", 1500, 30),))
        apples.variants[0].sale_mode = SaleMode.WHOLESALE
        apples.variants[0].case_size = 2
        db.session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                     weekday=local_weekday(slot, "Europe/Paris")))
        restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
        db.session.commit()
        return restaurant.email, slot.id, {"leeks": leeks.variants[0].id,
                                           "apples": apples.variants[0].id}


def test_restaurant_quick_order_then_invoice_pdf(e2e_server, browser_page):
    email, slot_id, ids = _kitchen(e2e_server.app)
    page = browser_page
    sign_in(page, email)

    page.goto("/restaurant/quick-order")
    page.select_option("#slot_id", value=str(slot_id))
    page.locator("form[method=get] [type=submit]").click()
    page.fill(f"#q-{ids['leeks']}", "12")
    page.fill(f"#q-{ids['apples']}", "4")
    page.locator("form[method=post] button.btn-success").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    expect(page.locator(".order-status")).to_have_text("Confirmée")

    page.goto("/restaurant/invoices")
    page.locator("a[href*='/restaurant/invoices/']").first.click()
    link = page.get_by_role("link", name=re.compile("PDF"))
    # The PDF opens in the browser's viewer; fetch it with the page's own session.
    response = page.request.get(link.get_attribute("href"))
    assert response.ok
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF")
    text = "\n".join(page_.extract_text()
                     for page_ in PdfReader(io.BytesIO(response.body())).pages)
    assert "F-000001" in text
    assert "Ferme du Pont" in text
    assert "Poireaux" in text
    assert "Pommes" in text
    assert "93,60" in text  # 12 x 2,80 + 4 x 15,00: the total the restaurant ordered
    with e2e_server.app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert order.status == OrderStatus.CONFIRMED
        invoice = db.session.scalars(select(Invoice)).one()
        assert invoice.number == 1
        assert invoice.total_cents == order.total_cents == 12 * 280 + 4 * 1500


def test_quick_order_on_a_phone(e2e_server, phone_page):
    """At 390 px: the total follows what is typed, the column headers stay in sight as
    the grid scrolls, the filter works as one types, and nothing scrolls sideways."""
    email, slot_id, ids = _kitchen(e2e_server.app)
    with e2e_server.app.app_context():
        farm = db.session.scalars(select(Producer)).one()
        for n in range(40):
            factories.product(farm, name=f"Légume {n:02d}", variants=(("1 kg", 300, 20),),
                              commit=False)
        db.session.commit()
    page = phone_page
    sign_in(page, email)
    page.goto(f"/restaurant/quick-order?slot_id={slot_id}")

    page.fill(f"#q-{ids['leeks']}", "12")  # 12 x 2,80 = 33,60 with 1,75 of VAT inside
    expect(page.locator("[data-total=ttc]")).to_have_text(re.compile(r"^33,60\s€$"))
    expect(page.locator("[data-total=ht]")).to_have_text(re.compile(r"^31,85\s€$"))
    expect(page.locator(f"tr[data-variant='{ids['leeks']}'] .quick-line-total")).to_have_text(
        re.compile(r"^31,85\s€$"))
    # Its unit price as the invoice prints it: 12 x 2,6542 = 31,85 (2,65 would give 31,80).
    expect(page.locator(f"tr[data-variant='{ids['leeks']}'] .quick-line-unit")).to_have_text(
        re.compile(r"^soit 2,6542\s€ l’unité$"))
    page.fill(f"#q-{ids['apples']}", "4")
    expect(page.locator("[data-total=ttc]")).to_have_text(re.compile(r"^93,60\s€$"))

    box = page.locator(".quick-scroll")
    box.evaluate("box => { box.scrollTop = 900; }")
    header = page.locator(".quick-table thead").first
    sticks = header.evaluate("""head => {
        const box = head.closest('.quick-scroll').getBoundingClientRect();
        const cell = head.querySelector('th').getBoundingClientRect();
        const first = head.closest('table').querySelector('tbody tr').getBoundingClientRect();
        const seen = document.elementFromPoint(cell.left + 5, cell.top + cell.height / 2);
        return {offset: cell.top - box.top, firstRowBelowTop: first.bottom > box.top,
                headerOnTop: head.contains(seen)};
    }""")
    assert abs(sticks["offset"]) <= 2, sticks  # at the top of the scrolled box
    assert not sticks["firstRowBelowTop"], sticks  # its first line scrolled away
    assert sticks["headerOnTop"], sticks  # drawn above the lines
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths

    page.fill("#quick-filter", "pomm")
    expect(page.locator(f"tr[data-variant='{ids['leeks']}']")).to_be_hidden()
    expect(page.locator(f"tr[data-variant='{ids['apples']}']")).to_be_visible()
    expect(page.locator("[data-total=ttc]")).to_have_text(re.compile(r"^93,60\s€$"))
