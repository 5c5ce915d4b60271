"""Checkout pages: the real form, bad input, the buyer's orders."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import marketplace.orders.models  # noqa: F401 - until marketplace/__init__.py imports it
from marketplace.catalogue.models import Variant
from marketplace.orders import services
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.pickup import services as pickup
from marketplace.pickup.models import PickupSlot
from tests import factories, pages
from tests.clock import now, paris
from tests.conftest import CSRF_RE, csrf_token


@pytest.fixture(autouse=True)
def blueprints(app):
    # Until marketplace/__init__.py registers it.
    if "checkout" not in app.blueprints:
        from marketplace.payments.checkout_routes import bp

        app.register_blueprint(bp)


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


@pytest.fixture
def shop(db, login, english):
    point = factories.pickup_point()
    slot = factories.slot(point)
    farm = factories.producer(name="Ferme A")
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 10),))
    factories.delivery_round(farm, slot)
    buyer = login(factories.user())
    return {"point": point, "slot": slot, "farm": farm, "carrots": carrots.variants[0],
            "buyer": buyer}


def get_cart(client):
    with client.session_transaction() as session:
        return dict(session.get("cart") or {})


def order_count(db):
    return db.session.scalar(select(func.count(Order.id)))


def place(form_post, slot, **extra):
    return form_post("/checkout", {"slot_id": str(slot.id), **extra}, page="/checkout")


def test_login_required(client):
    for url in ("/checkout", "/orders", "/orders/1"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.location


def test_checkout_page_lists_open_slots_and_unservable_lines(client, db, shop):
    other = factories.producer(name="Ferme Lointaine")
    leeks = factories.product(other, name="Poireaux").variants[0]
    factories.slot(shop["point"], starts_in=timedelta(days=6), capacity=1, taken=1)  # full
    pages.set_cart(client, {shop["carrots"].id: 2, leeks.id: 1})
    page = client.get("/checkout").get_data(as_text=True)
    assert "Café de la gare" in page
    assert page.count('name="slot_id"') == 1  # the full slot is not offered
    assert "Orders until Wednesday 18 November at 10\u00a0am" in page  # a day from now
    response = client.get(f"/checkout?slot_id={shop['slot'].id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ferme Lointaine does not deliver to Café de la gare on that day." in page


def test_checkout_places_the_order_and_empties_the_cart(client, db, form_post, shop):
    pages.set_cart(client, {shop["carrots"].id: 3})
    # A tampered price or producer id sent along is ignored.
    response = place(form_post, shop["slot"], price_cents="1", producer_id="999",
                      total_cents="1")
    assert response.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert response.location.endswith(f"/orders/{order.id}")
    assert order.total_cents == 1050
    assert order.buyer_id == shop["buyer"].id
    assert order.sub_orders[0].producer_id == shop["farm"].id
    assert get_cart(client) == {}
    # Pay at pickup (the one method offered before card payment): confirmed at once.
    assert order.status == OrderStatus.CONFIRMED
    assert order.payment_method == PaymentMethod.AT_PICKUP
    assert order.expires_at is None
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Confirmed" in page
    assert "To pay at pickup: €10.50" in page
    assert "Food miles" in page
    assert "km per farm on average" in page
    assert "Carottes" in page
    listing = client.get("/orders").get_data(as_text=True)
    assert f"/orders/{order.id}" in listing
    # Cancel before the cut-off: stock and place given back.
    response = form_post(f"/orders/{order.id}/cancel", {"confirm": "1"}, page=f"/orders/{order.id}")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.session.get(Variant, shop["carrots"].id).stock == 10
    assert db.session.get(PickupSlot, shop["slot"].id).taken == 0


def checkout_form(client, slot) -> dict:
    """The checkout form as the page gives it: its CSRF and checkout tokens."""
    page = client.get("/checkout").get_data(as_text=True)
    return {"csrf_token": CSRF_RE.search(page).group(1),
            "checkout_token": pages.TOKEN_RE.search(page).group(1), "slot_id": str(slot.id)}


def test_the_same_checkout_form_sent_again_places_one_order(client, db, shop):
    pages.set_cart(client, {shop["carrots"].id: 3})
    form = checkout_form(client, shop["slot"])
    cookie = client.get_cookie("session").value  # the session as it was, cart included
    first = client.post("/checkout", data=form)
    assert first.status_code == 303
    order = db.session.scalars(select(Order)).one()
    # A double click, or the back button and "send again": nothing new.
    again = client.post("/checkout", data=form)
    assert again.status_code == 303
    assert again.location.endswith(f"/orders/{order.id}")
    # Even with the old session cookie, cart and all, replayed.
    client.set_cookie("session", cookie)
    replayed = client.post("/checkout", data=form)
    assert replayed.location.endswith(f"/orders/{order.id}")
    assert "already placed" in client.get(replayed.location).get_data(as_text=True)
    assert order_count(db) == 1
    assert db.session.get(Variant, shop["carrots"].id).stock == 7
    assert db.session.get(PickupSlot, shop["slot"].id).taken == 1
    assert get_cart(client) == {}
    # A new visit to the checkout page is a new form: a new order may be placed.
    pages.set_cart(client, {shop["carrots"].id: 1})
    assert client.post("/checkout", data=checkout_form(client, shop["slot"])).status_code == 303
    assert order_count(db) == 2


def test_the_same_checkout_form_sent_twice_at_once_places_one_order(app, client, db, shop):
    """Two requests with one session cookie and one form, at the same moment: on
    PostgreSQL the second fails on the token's unique index and finds the first order;
    on SQLite it waits for the write lock and finds it before placing anything."""
    import threading

    pages.set_cart(client, {shop["carrots"].id: 2})
    form = checkout_form(client, shop["slot"])
    cookie = client.get_cookie("session").value
    barrier = threading.Barrier(2)
    answers: list = []
    errors: list = []

    def send():
        try:
            with app.app_context():
                twin = app.test_client()
                twin.set_cookie("session", cookie)
                barrier.wait(timeout=60)
                answers.append(twin.post("/checkout", data=form))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    db.session.rollback()
    order = db.session.scalars(select(Order)).one()
    assert [a.status_code for a in answers] == [303, 303]
    assert {a.location.rsplit("/", 1)[-1] for a in answers} == {str(order.id)}
    assert db.session.get(Variant, shop["carrots"].id).stock == 8


@pytest.mark.parametrize("token", ["", "short", "x" * 65, "bad token with spaces!"])
def test_a_missing_or_odd_checkout_token_is_ignored_not_an_error(client, db, shop, token):
    pages.set_cart(client, {shop["carrots"].id: 1})
    form = checkout_form(client, shop["slot"])
    form["checkout_token"] = token
    assert client.post("/checkout", data=form).status_code == 303
    assert db.session.scalars(select(Order)).one().checkout_token is None


def refused(client, db, response, status, message):
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert message in page
    assert order_count(db) == 0


def test_quantity_above_stock(client, db, form_post, shop):
    pages.set_cart(client, {shop["carrots"].id: 11})
    refused(client, db, place(form_post, shop["slot"]), 409,
            "Only 10 left of Carottes (1 kg): lower the quantity in your cart.")
    assert get_cart(client) == {str(shop["carrots"].id): 11}
    db.session.expire_all()
    assert db.session.get(Variant, shop["carrots"].id).stock == 10
    assert db.session.get(PickupSlot, shop["slot"].id).taken == 0


def test_slot_full_and_past_cut_off(client, db, form_post, shop):
    pages.set_cart(client, {shop["carrots"].id: 1})
    full = factories.slot(shop["point"], starts_in=timedelta(days=6), capacity=1, taken=1)
    refused(client, db, place(form_post, full), 409, "This pickup slot is full.")
    late = factories.slot(shop["point"], starts_in=timedelta(hours=6),
                          cutoff_in=-timedelta(hours=1))
    refused(client, db, place(form_post, late), 409, "past the cut-off")
    assert get_cart(client) == {str(shop["carrots"].id): 1}
    response = form_post("/checkout", {"slot_id": "nope"}, page="/checkout")
    refused(client, db, response, 400, "Choose a pickup slot.")


def test_variant_deleted_while_in_the_cart(client, db, form_post, shop):
    pages.set_cart(client, {shop["carrots"].id: 1})
    token_page = client.get("/checkout")
    assert token_page.status_code == 200
    token = CSRF_RE.search(token_page.get_data(as_text=True)).group(1)
    db.session.delete(db.session.get(Variant, shop["carrots"].id))
    db.session.commit()
    response = client.post("/checkout", data={"slot_id": str(shop["slot"].id),
                                              "csrf_token": token})
    refused(client, db, response, 409, "is no longer sold")
    assert get_cart(client) == {str(shop["carrots"].id): 1}


def test_another_buyers_order_is_not_found(client, db, form_post, shop):
    pages.set_cart(client, {shop["carrots"].id: 1})
    place(form_post, shop["slot"])
    order = db.session.scalars(select(Order)).one()
    with client.session_transaction() as session:
        session.clear()
        session["lang"] = "en"
    other = factories.user()
    token = csrf_token(client, "/login")
    client.post("/login", data={"email": other.email, "password": factories.PASSWORD,
                                "csrf_token": token})
    token = csrf_token(client, "/orders")  # signing in gave the session a new token
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.get("/orders/999999").status_code == 404
    response = client.post(f"/orders/{order.id}/cancel", data={"csrf_token": token})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


@pytest.mark.parametrize("kept_in", ["account", "session"])
def test_pickup_points_are_offered_nearest_first(client, db, login, english, kept_in):
    from marketplace.geo.location import SESSION_KEY

    here = (47.70, -2.76)
    km_per_degree_north = 111.1845  # along the meridian, at 47.7° N
    # Listed by name, by id and by their first date, these points come in another order
    # than by distance: only the distance can give Bergerie, Cave, Aubette.
    points = {}
    for name, km, starts_in in (("Aubette", 20, 2), ("Bergerie", 2, 6), ("Cave", 10, 4)):
        point = factories.pickup_point(name, at=(here[0] + km / km_per_degree_north, here[1]))
        factories.slot(point, starts_in=timedelta(days=starts_in))
        points[name] = point
    farm = factories.producer(name="Ferme A")
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 10),))
    buyer = login(factories.user())
    if kept_in == "account":
        buyer.location_label, buyer.latitude, buyer.longitude = "Ici", *here
        buyer.search_radius_km = 5  # a search radius; checkout still lists every point
        db.session.commit()
    else:
        with client.session_transaction() as session:
            session[SESSION_KEY] = {"label": "Ici", "latitude": here[0], "longitude": here[1],
                                    "radius_km": 5}
    pages.set_cart(client, {carrots.variants[0].id: 1})

    page = client.get("/checkout").get_data(as_text=True)

    shown = [int(i) for i in re.findall(r'class="[^"]*pickup-choice[^"]*" data-point="(\d+)"',
                                        page)]
    assert shown == [points[name].id for name in ("Bergerie", "Cave", "Aubette")]
    legends = re.findall(r'pickup-choice[^>]*>\s*<legend[^>]*>(.*?)</legend>', page, flags=re.S)
    assert [" ".join(re.sub(r"<[^>]+>", " ", legend).split()) for legend in legends] == [
        "Bergerie · 2.0 km", "Cave · 10.0 km", "Aubette · 20.0 km"]


def test_a_point_without_payment_at_pickup_says_so_before_checkout(client, db, form_post,
                                                                   shop):
    other = factories.pickup_point("Mairie")
    other.accepts_pay_at_pickup = False
    db.session.commit()
    factories.slot(other)
    pages.set_cart(client, {shop["carrots"].id: 1})
    page = client.get("/checkout").get_data(as_text=True)
    mairie = page[page.index(f'data-point="{other.id}"'):]
    mairie = mairie[:mairie.index("</fieldset>")]
    assert "No payment at pickup here: pay by card." in mairie
    cafe = page[page.index(f'data-point="{shop["point"].id}"'):]
    assert "No payment at pickup here" not in cafe[:cafe.index("</fieldset>")]


# The cut-off minute: the pages and the services read the clock themselves -------------------

CUT_OFF = paris(2026, 11, 18, 20, 0)  # Wednesday 20:00 in Paris, a day and a half from DEFAULT


@pytest.mark.parametrize(("offset", "still_open"), [
    pytest.param(-timedelta(minutes=1), True, id="a-minute-before"),
    pytest.param(timedelta(0), False, id="the-cut-off-instant"),
    pytest.param(timedelta(minutes=1), False, id="a-minute-after"),
])
def test_at_the_cut_off_minute(client, db, form_post, shop, clock, offset, still_open):
    slot = db.session.get(PickupSlot, shop["slot"].id)
    slot.cutoff_at = CUT_OFF
    db.session.commit()
    assert clock.start < CUT_OFF < slot.starts_at
    pages.set_cart(client, {shop["carrots"].id: 1})
    assert place(form_post, slot).status_code == 303  # well before the cut-off
    earlier = db.session.scalars(select(Order)).one()
    pages.set_cart(client, {shop["carrots"].id: 2})

    clock.move_to(CUT_OFF + offset, tick=False)  # the clock stands at that instant
    assert now() == CUT_OFF + offset
    assert (services.slot_problem(slot, now()) is None) is still_open
    assert (slot in pickup.open_slots(db.session, shop["point"], now())) is still_open
    page = client.get("/checkout").get_data(as_text=True)
    assert page.count('name="slot_id"') == (1 if still_open else 0)
    response = place(form_post, slot)
    if still_open:
        assert response.status_code == 303
    else:
        assert response.status_code == 409
        assert "past the cut-off" in response.get_data(as_text=True)
    assert order_count(db) == (2 if still_open else 1)
    # The buyer cancels the earlier order before the cut-off only.
    order_page = client.get(f"/orders/{earlier.id}").get_data(as_text=True)
    assert ("Cancel this order" in order_page) is still_open
    response = form_post(f"/orders/{earlier.id}/cancel", {"confirm": "1"},
                         page=f"/orders/{earlier.id}")
    assert response.status_code == (303 if still_open else 409)
    db.session.expire_all()
    assert (db.session.get(Order, earlier.id).status == OrderStatus.CANCELLED) is still_open
    # Open: 1 + 2 taken, 1 given back; closed: the earlier order's 1.
    assert db.session.get(Variant, shop["carrots"].id).stock == (8 if still_open else 9)
