"""The restaurants' quick-order grid: what can be ordered for a slot, typed
in and placed in one request (200 lines must work); bad input keeps what was typed."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import SaleMode, Variant, WholesaleTier
from marketplace.orders.cart import MAX_LINES
from marketplace.orders.models import Order, OrderLine, OrderStatus
from marketplace.wholesale import quick_routes
from tests import factories, pages
from tests.pages import TOKEN_RE


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def grid(db):
    point = factories.pickup_point("Le Bistrot du Port")
    slot = factories.slot(point, starts_in=timedelta(days=3), cutoff_in=timedelta(days=2),
                          capacity=20)
    farm = factories.producer(name="Ferme A")
    other = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    far = factories.producer(name="Ferme sans tournée")  # no round: not in the grid
    leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 500),))
    crate = factories.product(other, name="Pommes", variants=(("caisse 6 kg", 1500, 50),))
    hidden = factories.product(far, name="Navets", variants=(("botte", 200, 50),))
    leeks.variants[0].sale_mode = SaleMode.BOTH
    crate.variants[0].sale_mode = SaleMode.WHOLESALE
    crate.variants[0].case_size = 2
    db.session.add(WholesaleTier(variant_id=leeks.variants[0].id, min_quantity=10,
                                 unit_price_cents=250))
    db.session.commit()
    factories.delivery_round(farm, slot)
    factories.delivery_round(other, slot)
    restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
    return {"slot": slot, "farm": farm, "other": other, "leeks": leeks.variants[0],
            "crate": crate.variants[0], "hidden": hidden.variants[0],
            "restaurant": restaurant}


def url(slot):
    return f"/restaurant/quick-order?slot_id={slot.id}"


def test_grid_lists_what_the_slot_can_deliver_and_places_the_order(client, db, login,
                                                                   form_post, grid):
    g = grid
    login(g["restaurant"])
    page = client.get(url(g["slot"])).get_data(as_text=True)
    assert "Poireaux" in page
    assert "Pommes" in page
    assert "Navets" not in page
    response = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "10", f"q-{g['crate'].id}": "4",
        "payment_method": "at_pickup"}, page=url(g["slot"]))
    assert response.status_code == 303, response.get_data(as_text=True)
    order = db.session.scalar(select(Order))
    prices = {line.product_name: (line.quantity, line.unit_price_cents) for line in order.lines}
    assert prices == {"Poireaux": (10, 250), "Pommes": (4, 1500)}  # the tier from 10


@pytest.mark.parametrize(("typed", "message"), [
    ("3", "Sold by the case of 2"), ("-2", "cannot be negative"), ("1.5", "whole number"),
    ("abc", "whole number"), ("1000", "At most 999 units on one line"),
    ("9" * 5000, "At most 999 units on one line"), ("0" * 5000 + "1001", "At most 999"),
    ("\u00b2", "whole number")])
def test_bad_quantities_keep_what_was_typed(client, db, login, form_post, grid, typed,
                                            message):
    g = grid
    login(g["restaurant"])
    response = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "7", f"q-{g['crate'].id}": typed},
        page=url(g["slot"]))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert f'name="q-{g["leeks"].id}" value="7"' in html  # nothing typed is lost
    assert db.session.scalar(select(func.count(Order.id))) == 0


@pytest.mark.parametrize("field", ["hidden", "9" * 5000, "9" * 20, "\u00b2", "0", "-1", ""])
def test_an_item_not_in_the_grid_is_refused(client, db, login, form_post, grid, field):
    g = grid
    login(g["restaurant"])
    name = f"q-{g['hidden'].id}" if field == "hidden" else f"q-{field}"
    response = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "7", name: "1"},
        page=url(g["slot"]))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "An item of the form is not sold for this slot any more" in html
    assert f'name="q-{g["leeks"].id}" value="7"' in html
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_zeros_order_nothing(client, db, login, form_post, grid):
    g = grid
    login(g["restaurant"])
    response = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "00", f"q-{g['crate'].id}": "0"},
        page=url(g["slot"]))
    assert response.status_code == 400
    assert "Type a quantity for at least one item." in response.get_data(as_text=True)


@pytest.mark.parametrize("slot_id", ["", "nope", "0", "987654321", "9" * 20, "9" * 5000])
def test_an_unknown_date_shows_the_chooser_and_is_refused_on_post(client, db, login,
                                                                  form_post, grid, slot_id):
    g = grid
    login(g["restaurant"])
    page = client.get(f"/restaurant/quick-order?slot_id={slot_id}")
    assert page.status_code == 200
    assert f'<option value="{g["slot"].id}"' in page.get_data(as_text=True)
    response = form_post("/restaurant/quick-order", {
        "slot_id": slot_id, f"q-{g['leeks'].id}": "1"}, page=url(g["slot"]))
    assert response.status_code == 400
    assert "Choose a delivery or pickup date." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_only_approved_restaurants_reach_the_grid(client, db, login, grid):
    login(factories.user(Role.RESTAURANT, approved=False))
    assert client.get(url(grid["slot"])).status_code == 404
    with client.session_transaction() as session:
        session.clear()
    login(factories.user(Role.HOUSEHOLD))
    assert client.get(url(grid["slot"])).status_code == 403


def test_two_hundred_lines_in_one_submit(client, db, login, form_post, grid, count_queries):
    g = grid
    login(g["restaurant"])
    with count_queries() as queries:
        assert client.get(url(g["slot"])).status_code == 200
    few = len(queries)
    products = [factories.product(g["farm"], name=f"Légume {n:03d}",
                                  variants=(("1 kg", 300 + n, 20),), commit=False)
                for n in range(199)]
    db.session.commit()
    with count_queries() as queries:
        assert client.get(url(g["slot"])).status_code == 200
    assert len(queries) == few  # the grid's queries do not grow with its lines
    data = {"slot_id": str(g["slot"].id), "payment_method": "at_pickup",
            f"q-{g['leeks'].id}": "1"}
    data.update({f"q-{p.variants[0].id}": "2" for p in products})
    response = form_post("/restaurant/quick-order", data, page=url(g["slot"]))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert db.session.scalar(select(func.count(OrderLine.id))) == 200


def test_more_lines_than_an_order_holds_are_refused(client, db, login, form_post, grid):
    """Checkout keeps the first MAX_LINES lines of a cart: the grid must not drop the rest."""
    g = grid
    login(g["restaurant"])
    products = [factories.product(g["farm"], name=f"Légume {n:03d}",
                                  variants=(("1 kg", 300, 20),), commit=False)
                for n in range(MAX_LINES)]
    db.session.commit()
    data = {"slot_id": str(g["slot"].id), "payment_method": "at_pickup",
            f"q-{g['leeks'].id}": "1"}
    data.update({f"q-{p.variants[0].id}": "2" for p in products})
    response = form_post("/restaurant/quick-order", data, page=url(g["slot"]))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"More than {MAX_LINES} lines have a quantity: one order holds at most " \
           f"{MAX_LINES} items." in html
    assert f'name="q-{products[-1].variants[0].id}" value="2"' in html
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_a_date_offering_more_than_the_grid_shows_says_so(client, db, login, grid,
                                                          monkeypatch):
    g = grid
    login(g["restaurant"])
    page = client.get(url(g["slot"])).get_data(as_text=True)
    assert "quick-cut" not in page
    monkeypatch.setattr(quick_routes, "MAX_GRID_LINES", 1)
    page = client.get(url(g["slot"])).get_data(as_text=True)
    assert "This date offers more than 1 items: only the first 1 are listed here." in page
    assert "Poireaux" in page  # Ferme A comes first
    assert "Pommes" not in page


def test_a_retail_only_item_is_sold_by_the_unit_in_the_grid(client, db, login, form_post, grid):
    g = grid
    variant = db.session.get(Variant, g["leeks"].id)
    variant.sale_mode, variant.case_size = SaleMode.RETAIL, 6  # a case size typed anyway
    db.session.commit()
    login(g["restaurant"])
    response = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "5"}, page=url(g["slot"]))
    assert response.status_code == 303, response.get_data(as_text=True)
    line = db.session.scalar(select(OrderLine))
    assert line.quantity == 5
    assert line.unit_price_cents == 280  # the retail price, no tier


def test_the_grid_sent_twice_places_one_order(client, db, login, grid):
    from tests.conftest import CSRF_RE

    g = grid
    login(g["restaurant"])
    page = client.get(url(g["slot"])).get_data(as_text=True)
    form = {"csrf_token": CSRF_RE.search(page).group(1),
            "checkout_token": TOKEN_RE.search(page).group(1), "slot_id": str(g["slot"].id),
            f"q-{g['leeks'].id}": "10", "payment_method": "at_pickup"}
    first = client.post("/restaurant/quick-order", data=form)
    again = client.post("/restaurant/quick-order", data=form)  # a double click
    assert first.status_code == again.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert first.location == again.location
    assert again.location.endswith(f"/orders/{order.id}")
    assert db.session.get(Variant, g["leeks"].id).stock == 490


# Prices without VAT, totals, minimums, the filter and last week's quantities ----------------

RECALCULATE = {"action": "recalculate"}


def line_tag(html: str, variant_id: int) -> str:
    """The opening <tr> tag of the variant's line."""
    return re.search(rf'<tr class="quick-line[^>]*data-variant="{variant_id}"[^>]*>', html).group(0)


def test_prices_are_shown_without_vat_with_the_rate(client, db, login, grid):
    g = grid
    login(g["restaurant"])
    html = client.get(url(g["slot"])).get_data(as_text=True)
    assert "€2.654" in html  # 2.80 with 5.5 % VAT: 2.80 / 1.055 = 2.65403
    assert "VAT 5.5 %" in html
    assert "from 10: €2.37 each" in html  # the tier, 2.50 with VAT: 2.36967, not "2.370"


@pytest.mark.parametrize("quantity", [1, 2, 3, 7, 12, 25, 99, 240, 500])
def test_a_lines_total_is_its_quantity_times_its_unit_price(client, db, login, form_post, grid,
                                                            quantity):
    """7 x 1,40 € with 5.5 % VAT is 9,29 € excl. VAT (the VAT rounded once on the line):
    the price list reads 1,327 € (not 1,33 €: 7 x 1,33 € = 9,31 €) and the line its unit
    price as the invoice will print it, 1,3271 €, which multiplies out at any quantity."""
    g = grid
    g["leeks"].price_cents = 140
    db.session.execute(delete(WholesaleTier))  # one price whatever the quantity
    db.session.commit()
    login(g["restaurant"])
    html = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": str(quantity),
        "action": "recalculate"}, page=url(g["slot"])).get_data(as_text=True)
    row = html[html.index(line_tag(html, g["leeks"].id)):]
    row = row[:row.index("</tr>")]
    assert Decimal(re.search(r"€(\d+\.\d+)\s*<span", row).group(1)) == Decimal("1.327")
    total = Decimal(re.search(r'quick-line-total">€(\d+\.\d\d)<', row).group(1))
    unit = Decimal(re.search(r"i\.e\. €(\d+\.\d+) a unit", row).group(1))
    assert (quantity * unit).quantize(Decimal("0.01"), ROUND_HALF_UP) == total
    assert total == (Decimal(quantity * 140) / 100 / Decimal("1.055")).quantize(
        Decimal("0.01"), ROUND_HALF_UP)


def test_recalculate_shows_the_servers_totals_and_places_nothing(client, db, login, form_post,
                                                                   grid):
    g = grid
    g["other"].wholesale_minimum_cents = 6000
    db.session.commit()
    login(g["restaurant"])
    response = form_post("/restaurant/quick-order", {
        **RECALCULATE, "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "10",
        f"q-{g['crate'].id}": "2", "total": "1"}, page=url(g["slot"]))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # 10 x 2.50 (the tier) + 2 x 15.00 = 55.00, VAT 1.30 + 1.56 inside.
    assert '<dd data-total="ht">€52.14</dd>' in html
    assert '<dd data-total="vat">€2.86</dd>' in html
    assert '<dd data-total="ttc" class="fw-bold">€55.00</dd>' in html
    assert "Ferme B: <span data-subtotal>€30.00</span> / €60.00 minimum (incl. VAT)" in html
    assert f'name="q-{g["leeks"].id}" value="10"' in html  # what was typed, kept
    assert "€23.70" in html  # the leeks' line without VAT
    assert db.session.scalar(select(func.count(Order.id))) == 0
    response = form_post("/restaurant/quick-order", {
        **RECALCULATE, "slot_id": str(g["slot"].id), f"q-{g['crate'].id}": "4"},
        page=url(g["slot"]))
    assert "Ferme B: <span data-subtotal>€60.00</span> / €60.00 minimum" in \
        response.get_data(as_text=True)


@pytest.mark.parametrize("action", [RECALCULATE, {}])
@pytest.mark.parametrize(("typed", "message"), [
    ("52", "Only 50 in stock."), ("3", "Sold by the case of 2: order 2, 4, 6..."),
    ("-4", "A quantity cannot be negative: type 0 or leave it empty."),
    ("douze", "Enter a whole number of units, such as 12.")])
def test_bad_lines_are_refused_one_by_one(client, db, login, form_post, grid, action, typed,
                                          message):
    g = grid
    login(g["restaurant"])
    response = form_post("/restaurant/quick-order", {
        **action, "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "7",
        f"q-{g['crate'].id}": typed}, page=url(g["slot"]))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<div class="small text-danger-emphasis" id="q-{g["crate"].id}-error">{message}' \
        in html
    assert f'name="q-{g["crate"].id}" value="{typed}"' in html
    assert f'name="q-{g["leeks"].id}" value="7"' in html
    assert '<dd data-total="ttc" class="fw-bold">€19.60</dd>' in html  # the good line
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_the_filter_hides_lines_on_the_server(client, db, login, form_post, grid):
    g = grid
    login(g["restaurant"])
    html = client.get(url(g["slot"]) + "&filter=PÔMME").get_data(as_text=True)
    assert not line_tag(html, g["crate"].id).endswith(" hidden>")
    assert line_tag(html, g["leeks"].id).endswith(" hidden>")
    assert 'name="filter" value="PÔMME"' in html
    html = client.get(url(g["slot"]) + "&filter=ferme+a").get_data(as_text=True)
    assert line_tag(html, g["crate"].id).endswith(" hidden>")
    assert not line_tag(html, g["leeks"].id).endswith(" hidden>")
    assert "No item matches" in client.get(url(g["slot"]) + "&filter=truffe").get_data(
        as_text=True)
    # A quantity on a hidden line stays in the form, the totals and the order.
    response = form_post("/restaurant/quick-order", {
        **RECALCULATE, "slot_id": str(g["slot"].id), "filter": "pomme",
        f"q-{g['leeks'].id}": "2"}, page=url(g["slot"]))
    html = response.get_data(as_text=True)
    assert "1 line hidden by the filter has a quantity: it stays in the order." in html
    assert '<dd data-total="ttc" class="fw-bold">€5.60</dd>' in html


def _last_week(g, db, cart, starts_in=timedelta(days=3)):
    """An order placed for a slot ``starts_in`` from now; the grid's slot a week later."""
    point = g["slot"].pickup_point
    then = g["slot"] if starts_in == timedelta(days=3) else factories.slot(
        point, starts_in=starts_in, cutoff_in=timedelta(days=1))
    order = factories.order(g["restaurant"], then, cart)
    return then, order


def test_last_weeks_quantities_are_the_starting_point(client, db, login, grid):
    g = grid
    then, _order = _last_week(g, db, {g["leeks"].id: 12, g["crate"].id: 4})
    factories.delivery_round(g["farm"], factories.slot(
        then.pickup_point, starts_in=timedelta(days=4), cutoff_in=timedelta(days=1)))
    # A later order on another weekday: last week's same day comes first.
    other_day = factories.slot(then.pickup_point, starts_in=timedelta(days=4),
                               cutoff_in=timedelta(days=1))
    factories.order(g["restaurant"], other_day, {g["leeks"].id: 1})
    week_later = factories.slot(then.pickup_point, starts_in=timedelta(days=10),
                                cutoff_in=timedelta(days=9))
    login(g["restaurant"])
    html = client.get(url(week_later)).get_data(as_text=True)
    day = then.starts_at.astimezone(ZoneInfo("Europe/Paris"))
    assert f"Quantities of your order of {day:%A} {day.day} {day:%B}" in html
    assert f'name="q-{g["leeks"].id}" value="12"' in html
    assert f'name="q-{g["crate"].id}" value="4"' in html
    assert '<dd data-total="ttc" class="fw-bold">€90.00</dd>' in html  # 12 x 2.50 + 4 x 15
    cleared = client.get(url(week_later) + "&start=empty").get_data(as_text=True)
    assert "Quantities of your order of" not in cleared
    assert f'name="q-{g["leeks"].id}" value=""' in cleared
    # The order of the slot itself is not a "last week".
    assert "Quantities of your order of" not in client.get(url(then)).get_data(as_text=True)


def test_a_cancelled_order_is_no_starting_point(client, db, login, grid):
    g = grid
    _then, order = _last_week(g, db, {g["leeks"].id: 12})
    order.status = OrderStatus.CANCELLED
    db.session.commit()
    week_later = factories.slot(g["slot"].pickup_point, starts_in=timedelta(days=10),
                                cutoff_in=timedelta(days=9))
    login(g["restaurant"])
    assert "Quantities of your order of" not in client.get(url(week_later)).get_data(
        as_text=True)


def test_the_page_queries_do_not_grow_with_its_lines(client, db, login, form_post, grid,
                                                     count_queries):
    g = grid
    week_later = factories.slot(g["slot"].pickup_point, starts_in=timedelta(days=10),
                                cutoff_in=timedelta(days=9))

    def counts(cart):
        factories.order(g["restaurant"], g["slot"], cart)
        with count_queries() as shown:
            html = client.get(url(week_later)).get_data(as_text=True)
        assert "Quantities of your order of" in html
        data = {**RECALCULATE, "slot_id": str(week_later.id)}
        data.update({f"q-{k}": str(q) for k, q in cart.items()})
        page = url(week_later) + "&start=empty"
        form_post("/restaurant/quick-order", {}, page=page)  # the same session warmed up
        with count_queries() as recalculated:
            assert form_post("/restaurant/quick-order", data, page=page).status_code == 200
        return len(shown), len(recalculated)

    login(g["restaurant"])
    few = counts({g["leeks"].id: 1})
    products = [factories.product(g["farm"], name=f"Légume {n:02d}",
                                  variants=(("1 kg", 300 + n, 20),), commit=False)
                for n in range(30)]
    db.session.commit()
    many = counts({p.variants[0].id: 2 for p in products})
    assert many == few


def test_the_grid_opens_on_the_restaurants_market_day(client, db, login, grid):
    """No date named: the grid is the market day the restaurant chose; without one, the
    date chooser (a date named in the address still wins)."""
    g = grid
    login(g["restaurant"])
    assert "Poireaux" not in client.get("/restaurant/quick-order").get_data(as_text=True)
    pages.choose_market_day(client, g["slot"])
    page = client.get("/restaurant/quick-order").get_data(as_text=True)
    assert "Poireaux" in page
    assert re.search(rf'<option value="{g["slot"].id}"[^>]*selected', page)
    later = factories.slot(g["slot"].pickup_point, starts_in=timedelta(days=11),
                           cutoff_in=timedelta(days=9))
    assert "Poireaux" not in client.get(url(later)).get_data(as_text=True)  # no round then


def test_an_unconfirmed_restaurant_is_asked_to_confirm_its_address(client, db, login,
                                                                   form_post, grid):
    g = grid
    g["restaurant"].email_confirmed_at = None
    db.session.commit()
    login(g["restaurant"])
    response = form_post("/restaurant/quick-order", {
        "slot_id": str(g["slot"].id), f"q-{g['leeks'].id}": "10",
        "payment_method": "at_pickup"}, page=url(g["slot"]))
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Confirm your e-mail address before ordering" in page
    assert "Send the link again" in page
    assert 'value="10"' in page  # what was typed is kept
    assert db.session.scalar(select(Order)) is None
