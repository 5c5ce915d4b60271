"""The restaurants' quick-order grid: what can be ordered for a slot, typed
in and placed in one request (200 lines must work); bad input keeps what was typed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import SaleMode, Variant, WholesaleTier
from marketplace.orders.cart import MAX_LINES
from marketplace.orders.models import Order, OrderLine
from marketplace.wholesale import quick_routes
from tests import factories
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
    ("3", "Sold by the case of 2"), ("-2", "whole number"), ("1.5", "whole number"),
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
