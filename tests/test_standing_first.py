"""A farm that serves its restaurants' standing orders first: one-off orders
for a date wait until the standing order job has placed that date's standing orders."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date as babel_format_date
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import Variant
from marketplace.orders import cart as cart_service
from marketplace.orders import services as orders
from marketplace.orders.models import Order, PaymentMethod
from marketplace.pickup.models import PickupSlot
from marketplace.pickup.rounds import local_weekday
from marketplace.producers.models import Producer
from marketplace.sqlite import write_intent
from marketplace.wholesale import standing as service
from marketplace.wholesale.models import StandingOrder, StandingOrderLine
from tests import factories
from tests.clock import INSTANTS, now
from tests.factories import TZ

FIRST = "serves its restaurants' standing orders first"


def opens_on(slot, days=7):
    """The day one-off orders open, as the message gives it (in English)."""
    local = (slot.starts_at - timedelta(days=days)).astimezone(ZoneInfo(TZ)).date()
    return babel_format_date(local, "EEEE d MMMM", locale="en")


@pytest.fixture
def farmyard(db):
    """A farm with 10 units of one variant, a restaurant's standing order for 8 of them
    for a date 10 days away (beyond the job's 7 days), and a household."""
    point = factories.pickup_point("Halles de Vannes")
    slot = factories.slot(point, starts_in=timedelta(days=10), cutoff_in=timedelta(days=9),
                          capacity=20)
    farm = factories.producer(name="Ferme du Lindin")
    other = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 10),)).variants[0]
    eggs = factories.product(other, name="Œufs", variants=(("douzaine", 597, 20),)).variants[0]
    factories.delivery_round(farm, slot)
    factories.delivery_round(other, slot)
    restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
    standing = StandingOrder(buyer_id=restaurant.id, pickup_point_id=point.id,
                             weekday=local_weekday(slot, TZ), payment_method="at_pickup",
                             name=point.name)
    standing.lines.append(StandingOrderLine(variant_id=leeks.id, quantity=8))
    db.session.add(standing)
    db.session.commit()
    return {"point": point, "slot": slot, "farm": farm, "other": other, "leeks": leeks,
            "eggs": eggs, "restaurant": restaurant, "standing": standing,
            "household": factories.user()}


def first(db, producer, value=True):
    db.session.get(Producer, producer.id).standing_orders_first = value
    db.session.commit()


def run(db, days=14, at=None):
    with write_intent():
        counts = service.run_standing(db.session, now=at or now(), tz=TZ, days_ahead=days,
            config=current_app.config)
        db.session.commit()
    return counts


def one_off(db, f, cart, slot=None):
    order = orders.checkout(db.session, buyer=f["household"],
                            cart={str(k): v for k, v in cart.items()},
                            slot_id=(slot or f["slot"]).id, now=now(), tz=TZ,
                            payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
    db.session.commit()
    return order


def refused(db, f, cart, slot=None):
    with force_locale("en"), pytest.raises(orders.CheckoutError) as err:
        one_off(db, f, cart, slot)
    db.session.rollback()
    with force_locale("en"):
        return err.value, str(err.value.message)


def stock(db, variant):
    db.session.expire_all()
    return db.session.get(Variant, variant.id).stock


def orders_for(db, slot):
    return db.session.scalars(select(Order).where(Order.pickup_slot_id == slot.id)
                              .order_by(Order.id)).all()


def test_standing_order_takes_the_stock_before_a_one_off_order(db, farmyard):
    f = farmyard
    first(db, f["farm"])
    # 10 in stock, 8 for the standing order: a household wants 5 before the job runs.
    error, message = refused(db, f, {f["leeks"].id: 5})
    assert error.code == orders.CANNOT_SERVE
    assert error.status == 409
    assert error.line.variant_id == f["leeks"].id
    assert message == (f"Ferme du Lindin {FIRST}: orders for this date open on "
                       f"{opens_on(f['slot'])}.")
    assert stock(db, f["leeks"]) == 10
    assert orders_for(db, f["slot"]) == []

    started = now()
    assert run(db, at=started)["placed"] == 1
    placed = orders_for(db, f["slot"])
    assert [(o.buyer_id, [(ln.variant_id, ln.quantity) for ln in o.lines]) for o in placed] == [
        (f["restaurant"].id, [(f["leeks"].id, 8)])]
    assert stock(db, f["leeks"]) == 2
    assert db.session.get(PickupSlot, f["slot"].id).standing_placed_at == started

    # Now one-off orders are open, for what is left.
    error, message = refused(db, f, {f["leeks"].id: 5})
    assert error.code == orders.NOT_ENOUGH_STOCK
    assert "Only 2 left" in message
    order = one_off(db, f, {f["leeks"].id: 2})
    assert order.buyer_id == f["household"].id
    assert stock(db, f["leeks"]) == 0


def test_a_slot_within_reach_not_yet_run_opens_in_a_few_minutes(db, farmyard):
    f = farmyard
    first(db, f["farm"])
    # A week before the farmyard's date: the same weekday, served by the same round.
    soon = factories.slot(f["point"], starts_in=timedelta(days=3), cutoff_in=timedelta(days=2))
    error, message = refused(db, f, {f["leeks"].id: 1}, slot=soon)
    assert message == f"Ferme du Lindin {FIRST}: orders for this date open in a few minutes."
    assert stock(db, f["leeks"]) == 10


def test_without_the_choice_one_off_orders_are_never_blocked(db, farmyard):
    f = farmyard
    assert not f["farm"].standing_orders_first  # the default
    assert db.session.get(PickupSlot, f["slot"].id).standing_placed_at is None
    one_off(db, f, {f["leeks"].id: 5})
    assert stock(db, f["leeks"]) == 5
    # The standing order then gets what is left, no more (and is told).
    assert run(db)["failed"] == 1
    assert stock(db, f["leeks"]) == 5
    one_off(db, f, {f["leeks"].id: 5})
    assert stock(db, f["leeks"]) == 0


def test_a_farm_without_the_choice_in_the_same_cart_is_not_blocked(db, farmyard):
    f = farmyard
    first(db, f["farm"])
    cart = {f["leeks"].id: 1, f["eggs"].id: 2}
    view = cart_service.price_cart({str(k): v for k, v in cart.items()}, db.session,
                                   buyer=f["household"])
    with force_locale("en"):
        problems = orders.serving_problems(db.session, view, f["slot"], tz=TZ, now=now())
        assert list(problems) == [f["leeks"].id]
        assert FIRST in str(problems[f["leeks"].id])
        # The standing order job's own checkout is let through.
        assert orders.serving_problems(db.session, view, f["slot"], tz=TZ, now=now(),
                                       standing=True) == {}
    error, _message = refused(db, f, cart)
    assert error.line.variant_id == f["leeks"].id
    assert stock(db, f["eggs"]) == 20
    one_off(db, f, {f["eggs"].id: 2})
    assert stock(db, f["eggs"]) == 18


def test_running_twice_marks_once_and_places_one_order(db, farmyard):
    f = farmyard
    first(db, f["farm"])
    # A slot without any standing order is marked too; one beyond reach is not.
    elsewhere = factories.slot(factories.pickup_point("Épicerie du Port"),
                               starts_in=timedelta(days=5), cutoff_in=timedelta(days=4))
    later = factories.slot(f["point"], starts_in=timedelta(days=20),
                           cutoff_in=timedelta(days=19))
    started = now()
    run(db, at=started)
    second = run(db, at=started + timedelta(minutes=1))
    assert second == {status.value: 0 for status in service.RunStatus}
    db.session.expire_all()
    assert db.session.get(PickupSlot, f["slot"].id).standing_placed_at == started
    assert db.session.get(PickupSlot, elsewhere.id).standing_placed_at == started
    assert db.session.get(PickupSlot, later.id).standing_placed_at is None
    assert len(orders_for(db, f["slot"])) == 1
    assert stock(db, f["leeks"]) == 2


@pytest.mark.parametrize(("offset", "message"), [
    pytest.param(-timedelta(minutes=1), "open on", id="a-minute-before"),
    pytest.param(timedelta(0), "open in a few minutes", id="the-opening-instant"),
])
def test_one_off_orders_open_when_the_job_reaches_the_date(db, farmyard, clock, offset,
                                                           message):
    f = farmyard
    first(db, f["farm"])
    opens_at = f["slot"].starts_at - timedelta(days=7)  # STANDING_ORDERS_DAYS_AHEAD
    clock.move_to(opens_at + offset, tick=False)
    _error, said = refused(db, f, {f["leeks"].id: 1})
    assert f"{FIRST}: orders for this date {message}" in said
    if offset < timedelta(0):
        assert said.endswith(f"{opens_on(f['slot'])}.")


@pytest.mark.parametrize("clock", INSTANTS, indirect=True)
def test_the_checkout_page_tells_the_buyer(client, db, login, form_post, english, farmyard,
                                           clock):
    f = farmyard
    first(db, f["farm"])
    login(f["household"])
    with client.session_transaction() as session:
        session["cart"] = {str(f["leeks"].id): 5}
    expected = f"Ferme du Lindin {FIRST}: orders for this date open on {opens_on(f['slot'])}."
    page = client.get(f"/checkout?slot_id={f['slot'].id}").get_data(as_text=True)
    assert expected in html.unescape(page)
    response = form_post("/checkout", {"slot_id": str(f["slot"].id),
                                       "payment_method": "at_pickup"}, page="/checkout")
    assert response.status_code == 409
    assert expected in html.unescape(response.get_data(as_text=True))
    assert stock(db, f["leeks"]) == 10
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_the_choice_adds_no_query_to_the_checkout_page(client, db, login, english, farmyard,
                                                       count_queries):
    f = farmyard
    login(f["household"])
    with client.session_transaction() as session:
        session["cart"] = {str(f["leeks"].id): 5, str(f["eggs"].id): 1}
    counted = []
    for value in (False, True):
        first(db, f["farm"], value)
        with count_queries() as statements:
            page = client.get(f"/checkout?slot_id={f['slot'].id}").get_data(as_text=True)
        assert (FIRST in html.unescape(page)) == value
        counted.append(len(statements))
    assert counted[0] == counted[1]


def profile_box(client) -> str:
    """The profile form's checkbox and its label."""
    page = client.get("/farm/profile").get_data(as_text=True)
    match = re.search(r'<input[^>]*id="standing_orders_first"[^>]*>\s*<label[^>]*>[^<]*', page)
    assert match, page
    return match.group(0)


def test_the_farm_chooses_on_its_profile(client, db, login, form_post, english):
    farm = factories.producer(name="Ferme du Lindin")
    login(farm.user)
    box = profile_box(client)
    assert "Serve restaurants' standing orders first" in html.unescape(box)
    assert "checked" not in box
    data = {"name": "Ferme du Lindin", "delivery_radius_km": "30",
            "commune": "Elven", "latitude": "47.7325", "longitude": "-2.5894",
            "standing_orders_first": "y"}
    # Without the form's token nothing changes.
    assert client.post("/farm/profile", data=data).status_code == 400
    db.session.expire_all()
    assert not db.session.get(Producer, farm.id).standing_orders_first
    assert form_post("/farm/profile", data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Producer, farm.id).standing_orders_first
    assert "checked" in profile_box(client)
    # An unticked box is sent as nothing: the choice is taken back.
    del data["standing_orders_first"]
    assert form_post("/farm/profile", data).status_code == 302
    db.session.expire_all()
    assert not db.session.get(Producer, farm.id).standing_orders_first
