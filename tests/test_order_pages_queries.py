"""The buyer's order pages and the checkout preview: a fixed number of SQL queries
whatever the number of orders, farms and lines; another restaurant's door is never
previewed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import current_app

from marketplace.orders import cart as cart_service
from marketplace.orders import services
from marketplace.orders.models import PaymentMethod
from marketplace.pickup.models import DeliveryRound
from marketplace.pickup.rounds import can_serve, local_weekday
from marketplace.producers.models import Producer
from tests import factories, pages
from tests.clock import now
from tests.factories import TZ

# A point per order on /orders, a few kilometres apart around Vannes.
SPOTS = [(47.6582, -2.7608), (47.66, -2.75), (47.67, -2.74), (47.65, -2.77),
         (47.64, -2.76), (47.68, -2.73), (47.69, -2.72)]


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


def farm_with_products(db, name, *, lines=1, lat=47.7325, lon=-2.5894):
    farm = factories.producer(name=name, lat=lat, lon=lon)
    variants = [factories.product(farm, name=f"{name} produit {n}",
                                  variants=(("1 kg", 300 + n, 100),)).variants[0]
                for n in range(lines)]
    return farm, variants


def place(db, buyer, slot, variants, *, quantity=1):
    order = services.checkout(db.session, buyer=buyer,
                              cart={str(v.id): quantity for v in variants},
                              slot_id=slot.id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
    db.session.commit()
    return order


def queries_of(client, count_queries, url):
    with count_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements), response.get_data(as_text=True)


@pytest.fixture
def buyer(db, login):
    return login(factories.user(name="Claire"))


# /orders -------------------------------------------------------------------------------

def test_orders_list_issues_a_fixed_number_of_queries(client, db, buyer, count_queries):
    farm, (carrots,) = farm_with_products(db, "Ferme A")
    slots = []
    for n, spot in enumerate(SPOTS[:6]):
        slot = factories.slot(factories.pickup_point(name=f"Point {n}", at=spot),
                              starts_in=timedelta(days=3 + n))
        factories.delivery_round(farm, slot)
        slots.append(slot)
    place(db, buyer, slots[0], [carrots])
    one, page = queries_of(client, count_queries, "/orders")
    assert "Point 0" in page
    for slot in slots[1:]:  # five more orders, each at another point and date
        place(db, buyer, slot, [carrots])
    several, page = queries_of(client, count_queries, "/orders")
    assert page.count('class="list-group-item d-flex justify-content-between gap-2 order-row"'
                      ) == 6
    assert all(f"Point {n}" in page for n in range(6))
    assert several == one


def test_orders_list_pages_older_orders(app, client, db, buyer, count_queries, monkeypatch):
    from marketplace.payments import checkout_routes

    monkeypatch.setattr(checkout_routes, "ORDERS_PER_PAGE", 2)
    farm, (carrots,) = farm_with_products(db, "Ferme A")
    slot = factories.slot(factories.pickup_point())
    factories.delivery_round(farm, slot)
    orders = [place(db, buyer, slot, [carrots]) for _ in range(5)]
    newest_first = [o.id for o in reversed(orders)]

    def shown(page):
        return [i for i in newest_first if f'data-order="{i}"' in page]

    first, page = queries_of(client, count_queries, "/orders")
    assert shown(page) == newest_first[:2]
    assert "Older orders" in page
    assert "Newer orders" not in page
    second, page = queries_of(client, count_queries, "/orders?page=2")
    assert shown(page) == newest_first[2:4]
    assert "Older orders" in page
    assert "Newer orders" in page
    last, page = queries_of(client, count_queries, "/orders?page=3")
    assert shown(page) == newest_first[4:]
    assert "Older orders" not in page
    assert "Newer orders" in page
    assert first == second == last
    # Past the end: nothing older, a way back to the newest.
    page = client.get("/orders?page=9").get_data(as_text=True)
    assert "No older orders." in page
    assert 'rel="prev" href="/orders"' in page
    # Nonsense: a page, never an error.
    for url in ("/orders?page=9", "/orders?page=0", "/orders?page=abc",
                "/orders?page=99999999999999999999999"):
        response = client.get(url)
        assert response.status_code == 200, url


# /orders/<id> -------------------------------------------------------------------------

def test_order_page_issues_a_fixed_number_of_queries(client, db, buyer, count_queries):
    from marketplace.payments.models import Refund, RefundStatus

    point = factories.pickup_point()
    slot = factories.slot(point)
    farms = [farm_with_products(db, f"Ferme {n}", lines=3, lat=47.70 + n / 100)
             for n in range(3)]
    for farm, _variants in farms:
        factories.delivery_round(farm, slot)
    small = place(db, buyer, slot, farms[0][1][:1])
    big = place(db, buyer, slot, [v for _farm, variants in farms for v in variants])
    for order in (small, big):  # refunds are listed too
        db.session.add(Refund(order_id=order.id, amount_cents=100, reason="cancelled",
                              status=RefundStatus.SUCCEEDED))
    db.session.commit()
    one, page = queries_of(client, count_queries, f"/orders/{small.id}")
    assert page.count('class="card mb-4 sub-order"') == 1
    three, page = queries_of(client, count_queries, f"/orders/{big.id}")
    assert page.count('class="card mb-4 sub-order"') == 3
    assert page.count("order-line") == 9
    assert all(f"Subtotal for Ferme {n}" in page for n in range(3))
    assert "Café de la gare" in page
    assert "order cancelled" in page  # the refund
    assert three == one


# /checkout?slot_id= ---------------------------------------------------------------------

def test_checkout_preview_issues_a_fixed_number_of_queries(client, db, buyer, count_queries):
    point = factories.pickup_point()
    slot = factories.slot(point)
    served, (carrots,) = farm_with_products(db, "Ferme servie")
    factories.delivery_round(served, slot)
    pages.set_cart(client, {carrots.id: 1})
    one, page = queries_of(client, count_queries, f"/checkout?slot_id={slot.id}")
    assert "line-problem" not in page
    assert "from 1 farm" in page

    # More farms, one line each or more: served, without a round, out of reach, and
    # one that serves standing orders first.
    cart = {carrots.id: 1}
    other, variants = farm_with_products(db, "Ferme aussi servie", lines=2)
    factories.delivery_round(other, slot)
    cart.update({v.id: 2 for v in variants})
    _none, (leeks,) = farm_with_products(db, "Ferme sans tournée")
    cart[leeks.id] = 1
    far, (eggs,) = farm_with_products(db, "Ferme lointaine", lat=48.11, lon=-1.68)
    factories.delivery_round(far, slot)  # a round declared, but the point is beyond its radius
    cart[eggs.id] = 1
    first, (milk,) = farm_with_products(db, "Ferme des habitués")
    factories.delivery_round(first, slot)
    db.session.get(Producer, first.id).standing_orders_first = True
    db.session.commit()
    cart[milk.id] = 1
    pages.set_cart(client, cart)
    several, page = queries_of(client, count_queries, f"/checkout?slot_id={slot.id}")
    assert "Ferme sans tournée does not deliver to Café de la gare on that day." in page
    assert "Ferme lointaine does not deliver to Café de la gare on that day." in page
    assert "Ferme des habitués serves its restaurants' standing orders first" in page
    assert page.count("line-problem") == 3
    assert several == one


def test_serving_problems_agrees_with_can_serve(app, db):
    """The batched rule gives each farm the verdict can_serve gives it alone."""
    from marketplace.extensions import db as _db

    point = factories.pickup_point()
    slot = factories.slot(point)
    other_point = factories.pickup_point(name="Mairie", at=(47.66, -2.75))
    weekday = local_weekday(slot, TZ)
    cases = {}
    served, (a,) = farm_with_products(db, "Servie")
    factories.delivery_round(served, slot)
    cases[served.id] = a
    wrong_day, (b,) = farm_with_products(db, "Autre jour")
    db.session.add(DeliveryRound(producer_id=wrong_day.id, pickup_point_id=point.id,
                                 weekday=(weekday + 1) % 7))
    cases[wrong_day.id] = b
    wrong_point, (c,) = farm_with_products(db, "Autre point")
    db.session.add(DeliveryRound(producer_id=wrong_point.id, pickup_point_id=other_point.id,
                                 weekday=weekday))
    cases[wrong_point.id] = c
    far, (d,) = farm_with_products(db, "Lointaine", lat=48.11, lon=-1.68)
    factories.delivery_round(far, slot)
    cases[far.id] = d
    small_radius, (e,) = farm_with_products(db, "Petit rayon")
    factories.delivery_round(small_radius, slot)
    db.session.get(Producer, small_radius.id).delivery_radius_km = 5  # Elven is ~13 km away
    nowhere, (f,) = farm_with_products(db, "Sans position")
    factories.delivery_round(nowhere, slot)
    producer = db.session.get(Producer, nowhere.id)
    producer.latitude = producer.longitude = None
    cases[small_radius.id], cases[nowhere.id] = e, f
    db.session.commit()

    view = cart_service.price_cart({str(v.id): 1 for v in cases.values()}, _db.session)
    problems = services.serving_problems(_db.session, view, slot, tz=TZ, now=now())
    for producer_id, variant in cases.items():
        expected = can_serve(_db.session, _db.session.get(Producer, producer_id), slot, tz=TZ)
        assert (variant.id not in problems) is expected, producer_id
    assert set(problems) == {b.id, c.id, d.id, e.id, f.id}


# Another restaurant's door -------------------------------------------------------------

def test_checkout_preview_of_another_restaurants_door_is_an_unknown_slot(
        client, db, login, form_post, doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    far_eggs = factories.product(d["far"], name="Œufs").variants[0]
    cart = {d["leeks"].id: 1, far_eggs.id: 1}
    public_point = factories.pickup_point(name="Café de la gare")
    factories.slot(public_point)
    login(factories.user(name="Voisine"))  # a household
    pages.set_cart(client, cart)
    response = client.get(f"/checkout?slot_id={d['slot'].id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Le Bistrot" not in page
    assert "line-problem" not in page
    assert "food-miles" not in page
    assert f'value="{d["slot"].id}"' not in page
    assert "Café de la gare" in page  # the slots open to everyone are still offered
    # The POST already refuses it as unknown; its page does not show the door either.
    response = form_post("/checkout", {"slot_id": str(d["slot"].id)}, page="/checkout")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose a pickup slot." in page
    assert "Le Bistrot" not in page
    assert "line-problem" not in page

    # Its own restaurant previews it.
    form_post("/logout", {}, page="/")
    login(d["bistrot"])
    pages.set_cart(client, cart)
    page = client.get(f"/checkout?slot_id={d['slot'].id}").get_data(as_text=True)
    assert "Ferme lointaine does not deliver to Le Bistrot on that day." in page
    assert "food-miles" in page
