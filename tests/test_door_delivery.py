"""Delivery to a restaurant's door: the restaurant's own kind of pickup point,
private to it, that farms within reach opt into serving on its delivery days."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import services
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.pickup import services as pickup_services
from marketplace.pickup.models import (
    DeliveryRound,
    PickupKind,
    PickupPoint,
    PickupSchedule,
)
from marketplace.pickup.rounds import local_weekday
from marketplace.wholesale import door
from marketplace.wholesale.models import RestaurantProfile
from tests import factories, pages
from tests.clock import now
from tests.factories import TZ, VANNES

DOOR_URL = "/restaurant/door"


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


def form(weekdays=("1", "3"), starts="08:00", ends="11:00", cutoff="24"):
    return {"weekdays": list(weekdays), "starts_at": starts, "ends_at": ends,
            "cutoff_hours": cutoff}


# The restaurant's side ---------------------------------------------------------------------

def test_a_restaurant_opens_its_door_on_its_delivery_days(client, db, login, form_post):
    bistrot = login(factories.door_restaurant())
    response = form_post(DOOR_URL, form())
    assert response.status_code == 303
    point = db.session.scalar(select(PickupPoint).where(PickupPoint.private_buyer_id == bistrot.id))
    assert point.kind == PickupKind.RESTAURANT
    assert point.host_id == bistrot.id
    assert (point.latitude, point.longitude) == VANNES
    assert point.accepts_pay_at_pickup is False
    slots = factories.slots_of(point)
    assert {local_weekday(s, TZ) for s in slots} == {1, 3}
    assert 6 <= len(slots) <= 8  # Tuesdays and Thursdays of the next four weeks
    assert all(s.cutoff_at == s.starts_at - timedelta(hours=24) for s in slots)
    assert all(s.capacity == door.DOOR_CAPACITY for s in slots)
    page = client.get(DOOR_URL).get_data(as_text=True)
    assert "Deliveries to 3 rue du Port, Vannes" in page
    assert "Tuesday, Thursday" in page

    # Fewer days: the Thursdays nobody ordered for go.
    assert form_post(DOOR_URL, form(weekdays=("1",))).status_code == 303
    db.session.expire_all()
    assert {local_weekday(s, TZ) for s in factories.slots_of(point)} == {1}
    assert db.session.scalar(select(func.count()).select_from(PickupSchedule).where(
        PickupSchedule.pickup_point_id == point.id)) == 1


def test_opening_a_door_makes_its_own_dates_only(client, db, login, form_post):
    """A café's opening has no dates yet (its host generates them): a restaurant
    saving its door does not make them."""
    cafe = factories.pickup_point(host=factories.user(Role.HOST))
    pickup_services.add_schedule(db.session, cafe, weekday=2, starts_at=time(17),
                                 ends_at=time(19), capacity=10, cutoff_hours=24)
    db.session.commit()
    login(factories.door_restaurant())
    assert form_post(DOOR_URL, form()).status_code == 303
    assert factories.slots_of(cafe) == []


@pytest.mark.parametrize(("data", "message"), [
    (form(weekdays=()), "Tick at least one delivery day."),
    (form(weekdays=("9",)), "Tick days from the list."),
    (form(weekdays=("mardi",)), "Delivery days"),
    (form(starts="11:00", ends="08:00"), "must be after its start"),
    (form(starts="8h"), "HH:MM"),
    (form(cutoff="2"), "Between 12 and 168 hours."),
    (form(cutoff="a day"), "cut-off"),
])
def test_bad_door_input_is_refused_and_kept(client, db, login, form_post, data, message):
    login(factories.door_restaurant())
    response = form_post(DOOR_URL, data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PickupPoint)) == 0


def test_the_door_needs_an_approved_restaurant_with_a_located_address(
        client, db, login, form_post):
    login(factories.door_restaurant(approved=False))
    response = form_post(DOOR_URL, form())
    assert response.status_code == 403
    assert "once an administrator has approved" in response.get_data(as_text=True)
    form_post("/logout", {}, page="/")
    login(factories.door_restaurant(name="Sans adresse", located=False))
    response = form_post(DOOR_URL, form())
    assert response.status_code == 409
    assert "Fill in your restaurant profile first" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PickupPoint)) == 0
    form_post("/logout", {}, page="/")
    login(factories.user(Role.HOUSEHOLD))
    assert client.get(DOOR_URL).status_code == 403


def test_the_door_form_needs_its_csrf_token(client, db, login, app):
    login(factories.door_restaurant())
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(DOOR_URL, data=form())
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(PickupPoint)) == 0


# Farms opt in ---------------------------------------------------------------------------

def test_a_farm_within_reach_opts_into_the_door_on_its_days(client, db, login, form_post,
                                                            doorstep):
    d = doorstep
    login(d["near"].user)
    page = client.get("/farm/rounds").get_data(as_text=True)
    assert "Le Bistrot" in page
    assert "Restaurant: delivery to the door" in page
    assert "08:00–11:00" in page
    assert f'value="{d["point"].id}:1"' in page
    assert f'value="{d["point"].id}:2"' not in page  # no deliveries received on Wednesdays
    response = form_post("/farm/rounds", {"round": f"{d['point'].id}:1"})
    assert response.status_code == 302
    assert db.session.scalar(select(DeliveryRound.weekday).where(
        DeliveryRound.producer_id == d["near"].id,
        DeliveryRound.pickup_point_id == d["point"].id)) == 1


def test_a_farm_out_of_reach_cannot_serve_the_door(client, db, login, form_post, doorstep):
    d = doorstep
    login(d["far"].user)
    assert "Le Bistrot" not in client.get("/farm/rounds").get_data(as_text=True)
    response = form_post("/farm/rounds", {"round": f"{d['point'].id}:1"})
    assert response.status_code == 400
    assert "outside your delivery radius" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(DeliveryRound)) == 0


def test_the_restaurant_orders_for_its_door_and_checks_off_the_delivery(
        client, db, login, form_post, doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    with pytest.raises(services.CheckoutError) as refused:
        services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 3},
                          slot_id=d["slot"].id, now=now(), tz=TZ,
                          payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
    assert refused.value.code == services.PAYMENT_METHOD  # the door takes no payment there
    db.session.rollback()
    order = services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 3},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.CARD, config=current_app.config)
    order.status, order.paid_at = OrderStatus.CONFIRMED, now()  # as if paid by card
    for sub in order.sub_orders:
        sub.status = OrderStatus.CONFIRMED
    db.session.commit()

    login(d["bistrot"])
    page = client.get(DOOR_URL).get_data(as_text=True)
    sheet = f"/pickup/slots/{d['slot'].id}/sheet"
    assert sheet in page
    assert client.get(sheet).status_code == 200
    done = form_post(f"/pickup/slots/{d['slot'].id}/orders/{order.id}/collected", {},
                     page=sheet)
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.COLLECTED

    form_post("/logout", {}, page="/")
    login(factories.door_restaurant(name="Autre table"))
    assert client.get(sheet).status_code == 404


# Private to its restaurant ----------------------------------------------------------------

def test_nobody_else_sees_or_orders_for_the_door(client, db, login, form_post, doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    public = factories.pickup_point("Café de la gare")
    factories.slot(public)
    api = client.get("/api/v1/pickup-points?lat=47.6582&lon=-2.7608&radius_km=20").get_json()
    assert [item["name"] for item in api["items"]] == ["Café de la gare"]

    neighbour = factories.user(Role.HOUSEHOLD)
    other_restaurant = factories.door_restaurant(name="Autre table")
    for buyer in (neighbour, other_restaurant):
        with pytest.raises(services.CheckoutError) as refused:
            services.checkout(db.session, buyer=buyer, cart={str(d["leeks"].id): 1},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.CARD, config=current_app.config)
        assert refused.value.code == services.SLOT_UNKNOWN
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0

    login(neighbour)
    pages.set_cart(client, {d["leeks"].id: 1})
    page = client.get("/checkout").get_data(as_text=True)
    assert "Café de la gare" in page
    assert "Le Bistrot" not in page
    near = client.get("/near?lat=47.6582&lon=-2.7608&radius_km=20").get_data(as_text=True)
    assert "Le Bistrot" not in near

    form_post("/logout", {}, page="/")
    login(d["bistrot"])
    pages.set_cart(client, {d["leeks"].id: 1})
    page = client.get("/checkout").get_data(as_text=True)
    assert "Delivered to your door" in page
    assert "Le Bistrot" in page


def test_stopping_deliveries_keeps_the_dates_already_ordered(client, db, login, form_post,
                                                            doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    order = services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 1},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.CARD, config=current_app.config)
    db.session.commit()
    login(d["bistrot"])
    assert form_post("/restaurant/door/close", {}, page=DOOR_URL).status_code == 303
    db.session.expire_all()
    point = db.session.get(PickupPoint, d["point"].id)
    assert point.is_active is False
    assert [s.id for s in factories.slots_of(point)] == [order.pickup_slot_id]
    # Opened again: the dates come back, the one ordered for is not duplicated.
    assert form_post(DOOR_URL, form(weekdays=("1",))).status_code == 303
    db.session.expire_all()
    slots = factories.slots_of(point)
    assert len({s.starts_at for s in slots}) == len(slots) >= 3  # 3 or 4 Tuesdays ahead


def test_the_door_follows_the_restaurant_when_it_moves(client, db, login, form_post, doorstep):
    from marketplace.geo.gazetteer import load_gazetteer

    load_gazetteer(db.session, departments={"56"})
    db.session.commit()
    d = doorstep
    login(d["bistrot"])
    response = form_post("/restaurant/profile", {
        "business_name": "Le Bistrot d'Elven", "siret": "73282932000074",
        "vat_number": "FR44732829320", "address": "1 place de l'Église", "postcode": "56250",
        "commune": "Elven", "delivery_hours": ""})
    assert response.status_code == 302
    db.session.expire_all()
    point = db.session.get(PickupPoint, d["point"].id)
    profile = db.session.scalar(select(RestaurantProfile).where(
        RestaurantProfile.user_id == d["bistrot"].id))
    assert profile.latitude is not None, profile.commune
    assert point.name == "Le Bistrot d'Elven"
    assert point.commune == "Elven"
    assert abs(point.latitude - 47.73) < 0.05  # Elven, no longer Vannes


def test_an_order_on_invoice_is_received_at_the_door_without_payment(
        client, db, login, form_post, doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    db.session.scalar(select(RestaurantProfile).where(
        RestaurantProfile.user_id == d["bistrot"].id)).payment_terms_days = 30
    order = services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 2},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.INVOICE, config=current_app.config)
    db.session.commit()
    assert order.status == OrderStatus.CONFIRMED
    assert not order.is_paid
    # Its confirmation and its page speak of a delivery, not of collecting it.
    confirmation = db.session.scalar(select(OutboxMessage.body_text).where(
        OutboxMessage.dedupe_key == f"order-confirmed:{order.id}"))
    assert "Delivered to your door: " in confirmation or "Livré à votre porte" in confirmation
    assert "On invoice: each farm" in confirmation or "Sur facture" in confirmation
    login(d["bistrot"])
    order_page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Delivery to your door" in order_page
    assert "Where and when to collect" not in order_page
    sheet = f"/pickup/slots/{d['slot'].id}/sheet"
    page = client.get(sheet).get_data(as_text=True)
    assert "On invoice: nothing to take" in page
    assert 'name="paid_with"' not in page
    done = form_post(f"/pickup/slots/{d['slot'].id}/orders/{order.id}/collected", {},
                     page=sheet)
    assert done.status_code == 303
    db.session.expire_all()
    received = db.session.get(Order, order.id)
    assert received.status == OrderStatus.COLLECTED
    assert received.paid_at is None  # the farm's invoice is still to be paid


def test_the_grid_offers_the_door_to_its_restaurant_only(client, db, login, form_post,
                                                         doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    login(d["bistrot"])
    page = client.get("/restaurant/quick-order").get_data(as_text=True)
    assert f'value="{d["slot"].id}"' in page
    assert "Delivered to your door · Le Bistrot" in page
    form_post("/logout", {}, page="/")
    login(factories.door_restaurant(name="Autre table"))
    page = client.get("/restaurant/quick-order").get_data(as_text=True)
    assert f'value="{d["slot"].id}"' not in page
    # Named by id anyway: as an unknown date (the chooser, not the door's grid).
    page = client.get(f"/restaurant/quick-order?slot_id={d['slot'].id}").get_data(as_text=True)
    assert f'name="q-{d["leeks"].id}"' not in page
    assert client.get(f"/restaurant/order-upload/template.csv?slot_id={d['slot'].id}"
                      ).status_code == 404
    # ... while its own restaurant gets the grid of its door.
    form_post("/logout", {}, page="/")
    login(d["bistrot"])
    page = client.get(f"/restaurant/quick-order?slot_id={d['slot'].id}").get_data(as_text=True)
    assert f'name="q-{d["leeks"].id}"' in page
    # A door takes no money: the grid does not offer payment at pickup there.
    assert 'value="at_pickup"' not in page


def _door_page_queries(client, count_queries, url):
    with count_queries() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_door_and_rounds_pages_issue_a_fixed_number_of_queries(client, db, login, form_post,
                                                               count_queries, doorstep):
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    login(d["near"].user)
    one_door = _door_page_queries(client, count_queries, "/farm/rounds")
    for n in range(4):  # more restaurants' doors within reach
        factories.restaurant_door(factories.door_restaurant(name=f"Table {n}"), weekdays=(n, n + 1))
    assert _door_page_queries(client, count_queries, "/farm/rounds") == one_door
    assert client.get("/farm/rounds").get_data(as_text=True).count("door-badge") == 5

    form_post("/logout", {}, page="/")
    login(d["bistrot"])
    few = _door_page_queries(client, count_queries, DOOR_URL)
    for _n in range(3):  # more orders on the door's dates
        services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 1},
                          slot_id=d["slot"].id, now=now(), tz=TZ,
                          payment_method=PaymentMethod.CARD, config=current_app.config)
        db.session.commit()
    factories.restaurant_door(d["bistrot"], weekdays=(1, 3, 5))  # and more dates
    assert _door_page_queries(client, count_queries, DOOR_URL) == few


def test_a_standing_order_repeats_a_door_delivery(db, doorstep):
    from marketplace.wholesale import standing

    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays
    first = services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 4},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.CARD, config=current_app.config)
    db.session.commit()
    weekly = standing.from_order(db.session, first, tz=TZ)
    db.session.commit()
    assert weekly.pickup_point_id == d["point"].id
    standing.run_standing(db.session, now=now(), tz=TZ, days_ahead=15, config=current_app.config)
    db.session.commit()
    placed = db.session.scalars(select(Order).where(
        Order.buyer_id == d["bistrot"].id, Order.id != first.id)).all()
    assert placed  # the next Tuesdays at the door
    assert all(o.pickup_slot.pickup_point_id == d["point"].id for o in placed)
    # The date of the order it repeats gets no second order.
    assert first.pickup_slot_id not in {o.pickup_slot_id for o in placed}
    assert all(o.lines[0].quantity == 4 for o in placed)


def test_a_door_date_no_farm_delivers_is_not_offered(client, db, login):
    """The door opens on Tuesdays and Fridays; one farm within reach delivers it on
    Tuesdays. Fridays are served only by a farm out of reach and one not approved:
    nobody can deliver them, so no chooser offers them."""
    bistrot = factories.door_restaurant()
    point = factories.restaurant_door(bistrot, weekdays=(1, 4))
    near = factories.producer(name="Ferme voisine")
    far = factories.producer(name="Ferme lointaine", lat=48.11, lon=-1.68)  # Rennes
    waiting = factories.producer(name="Ferme en attente", approved=False)
    db.session.add_all([
        DeliveryRound(producer_id=near.id, pickup_point_id=point.id, weekday=1),
        DeliveryRound(producer_id=far.id, pickup_point_id=point.id, weekday=4),
        DeliveryRound(producer_id=waiting.id, pickup_point_id=point.id, weekday=4)])
    db.session.commit()
    open_slots = [s for s in factories.slots_of(point) if s.cutoff_at > now()]
    tuesdays = [s for s in open_slots if local_weekday(s, TZ) == 1]
    fridays = [s for s in open_slots if local_weekday(s, TZ) == 4]
    assert tuesdays
    assert fridays
    login(bistrot)

    for url in ("/restaurant/quick-order", "/restaurant/order-upload", "/market-day"):
        page = client.get(url).get_data(as_text=True)
        offered = {int(i) for i in re.findall(r'name="slot_id" value="(\d+)"', page)
                   + re.findall(r'<option value="(\d+)"', page)}
        assert {s.id for s in tuesdays} <= offered, url
        assert not {s.id for s in fridays} & offered, url
