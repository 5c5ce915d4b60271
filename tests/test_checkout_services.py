"""Checkout and the order state machine: one transaction, conditional UPDATEs,
totals from the database, transitions from one table."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

import marketplace.orders.models  # noqa: F401 - until marketplace/__init__.py imports it
from marketplace.accounts.models import User
from marketplace.catalogue.models import Variant
from marketplace.orders import cart as cart_service
from marketplace.orders import services
from marketplace.orders.models import (
    TRANSITIONS,
    Actor,
    Order,
    OrderLine,
    OrderStatus,
    SubOrder,
)
from marketplace.pickup.models import (
    PickupSlot,
    SlotStatus,
)
from marketplace.reports.farms import food_miles_of_producer
from marketplace.sqlite import write_intent
from tests import factories
from tests.clock import now
from tests.factories import TZ, VANNES


@pytest.fixture
def market(db):
    """Two farms serving one slot; a buyer."""
    point = factories.pickup_point()
    slot = factories.slot(point)
    farm_a = factories.producer(name="Ferme A")
    farm_b = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    carrots = factories.product(farm_a, name="Carottes", variants=(("1 kg", 350, 10),))
    eggs = factories.product(farm_b, name="Œufs", variants=(("douzaine", 597, 20),))
    eggs.vat_rate_bp = 2000
    db.session.commit()
    factories.delivery_round(farm_a, slot)
    factories.delivery_round(farm_b, slot)
    buyer = factories.user()
    return {"point": point, "slot": slot, "farm_a": farm_a, "farm_b": farm_b,
            "carrots": carrots.variants[0], "eggs": eggs.variants[0], "buyer": buyer}


@pytest.fixture(autouse=True)
def request_context(app):
    # Refusal messages are lazy translated strings, read within a request.
    with app.test_request_context():
        yield


def counts(db):
    return (db.session.scalar(select(func.count(Order.id))),
            db.session.scalar(select(func.count(SubOrder.id))),
            db.session.scalar(select(func.count(OrderLine.id))))


def do_checkout(db, m, cart, slot=None):
    return services.checkout(db.session, buyer=m["buyer"], cart=cart,
                             slot_id=(slot or m["slot"]).id, now=now(), tz=TZ,
                                 config=current_app.config)


# Totals ------------------------------------------------------------------------------

def test_checkout_creates_one_sub_order_per_producer_with_server_totals(db, market):
    m = market
    cart = {str(m["carrots"].id): 3, str(m["eggs"].id): 2}
    order = do_checkout(db, m, cart)
    db.session.commit()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.expires_at == m["slot"].cutoff_at
    assert len(order.sub_orders) == 2
    assert {s.producer_id for s in order.sub_orders} == {m["farm_a"].id, m["farm_b"].id}
    lines = order.lines
    assert order.total_cents == sum(ln.line_total_cents for ln in lines) == 3 * 350 + 2 * 597
    assert order.vat_cents == sum(ln.vat_cents for ln in lines)
    view = cart_service.price_cart(cart, db.session)
    assert {ln.variant_id: ln.vat_cents for ln in lines} == {
        ln.variant_id: ln.vat_cents for ln in view.lines}
    assert order.vat_cents == view.vat_cents
    egg_line = next(ln for ln in lines if ln.variant_id == m["eggs"].id)
    assert (egg_line.product_name, egg_line.variant_label, egg_line.unit_price_cents,
            egg_line.vat_rate_bp, egg_line.vat_cents) == ("Œufs", "douzaine", 597, 2000, 199)
    for sub in order.sub_orders:
        assert sub.subtotal_cents == sum(ln.line_total_cents for ln in sub.lines)
        assert 0 < sub.food_km < 30
        assert all(ln.distance_km == sub.food_km for ln in sub.lines)
    assert order.food_km_total == pytest.approx(sum(s.food_km for s in order.sub_orders))
    db.session.expire_all()
    assert db.session.get(Variant, m["carrots"].id).stock == 7
    assert db.session.get(Variant, m["eggs"].id).stock == 18
    assert db.session.get(PickupSlot, m["slot"].id).taken == 1


def test_prices_come_from_the_database(db, market):
    m = market
    order = do_checkout(db, m, {str(m["carrots"].id): 1})
    db.session.commit()
    m["carrots"].price_cents = 999
    db.session.commit()
    assert order.lines[0].unit_price_cents == 350  # copied at checkout, kept


# Refusals: each leaves nothing behind --------------------------------------------------

def refused(db, m, cart, code, slot=None):
    before = counts(db)
    with pytest.raises(services.CheckoutError) as err:
        do_checkout(db, m, cart, slot)
    db.session.rollback()
    assert err.value.code == code, str(err.value.message)
    assert counts(db) == before
    return err.value


def test_refusals(db, market):
    m = market
    carrots, eggs = m["carrots"], m["eggs"]
    refused(db, m, {}, services.EMPTY_CART)
    err = refused(db, m, {str(carrots.id): 11}, services.NOT_ENOUGH_STOCK)
    # The message follows the site's language (French outside a request).
    assert "10" in str(err.message)
    assert "Carottes (1 kg)" in str(err.message)
    assert err.line.variant_id == carrots.id
    full = factories.slot(m["point"], starts_in=timedelta(days=4), capacity=1, taken=1)
    refused(db, m, {str(carrots.id): 1}, services.SLOT_FULL, full)
    late = factories.slot(m["point"], starts_in=timedelta(hours=5), cutoff_in=-timedelta(hours=1))
    refused(db, m, {str(carrots.id): 1}, services.SLOT_CUT_OFF, late)
    closed = factories.slot(m["point"], starts_in=timedelta(days=5), status=SlotStatus.CLOSED)
    refused(db, m, {str(carrots.id): 1}, services.SLOT_CLOSED, closed)
    with pytest.raises(services.CheckoutError) as err:
        services.checkout(db.session, buyer=m["buyer"], cart={str(carrots.id): 1},
                          slot_id="abc", now=now(), tz=TZ, config=current_app.config)
    assert err.value.code == services.SLOT_UNKNOWN
    db.session.rollback()
    # A producer without a round that day: a clear per-line reason.
    other = factories.producer(name="Ferme C")
    leeks = factories.product(other, name="Poireaux").variants[0]
    err = refused(db, m, {str(carrots.id): 1, str(leeks.id): 1}, services.CANNOT_SERVE)
    assert err.line.variant_id == leeks.id
    assert "Ferme C" in str(err.message)
    assert "Café de la gare" in str(err.message)
    # A variant deleted while in the cart; the stock of the other line is untouched.
    gone_id = eggs.id
    db.session.delete(eggs)
    db.session.commit()
    refused(db, m, {str(carrots.id): 1, str(gone_id): 1}, services.VARIANT_GONE)
    db.session.expire_all()
    assert db.session.get(Variant, carrots.id).stock == 10
    assert db.session.get(PickupSlot, m["slot"].id).taken == 0


def test_stock_failure_after_the_place_was_taken_rolls_everything_back(db, market):
    m = market
    cart = {str(m["carrots"].id): 2, str(m["eggs"].id): 21}
    refused(db, m, cart, services.NOT_ENOUGH_STOCK)
    db.session.expire_all()
    assert db.session.get(Variant, m["carrots"].id).stock == 10
    assert db.session.get(PickupSlot, m["slot"].id).taken == 0


# State machine -------------------------------------------------------------------------

def test_transition_table():
    assert all(isinstance(k[0], OrderStatus) and isinstance(k[1], OrderStatus)
               and v and all(isinstance(a, Actor) for a in v) for k, v in TRANSITIONS.items())
    assert services.allowed(OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, Actor.BUYER)
    assert services.allowed(OrderStatus.CONFIRMED, OrderStatus.READY, Actor.PRODUCER)
    assert services.allowed(OrderStatus.READY, OrderStatus.COLLECTED, Actor.HOST)
    assert not services.allowed(OrderStatus.READY, OrderStatus.COLLECTED, Actor.BUYER)
    assert not services.allowed(OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, Actor.BUYER)
    assert not services.allowed(OrderStatus.COLLECTED, OrderStatus.PENDING_PAYMENT, Actor.ADMIN)
    assert not services.allowed(OrderStatus.CANCELLED, OrderStatus.CONFIRMED, Actor.ADMIN)


def test_transition_moves_order_and_sub_orders(db, market):
    m = market
    order = do_checkout(db, m, {str(m["carrots"].id): 1, str(m["eggs"].id): 1})
    with pytest.raises(services.TransitionError):
        services.transition(order, OrderStatus.CONFIRMED, Actor.BUYER)
    assert order.status == OrderStatus.PENDING_PAYMENT
    services.transition(order, OrderStatus.CONFIRMED, Actor.SYSTEM)
    assert {s.status for s in order.sub_orders} == {OrderStatus.CONFIRMED}
    sub = order.sub_orders[0]
    services.transition(sub, OrderStatus.READY, Actor.PRODUCER)
    with pytest.raises(services.TransitionError):
        services.transition(sub, OrderStatus.COLLECTED, Actor.PRODUCER)
    services.transition(sub, OrderStatus.COLLECTED, Actor.HOST)
    with pytest.raises(services.TransitionError):
        services.transition(sub, OrderStatus.PENDING_PAYMENT, Actor.ADMIN)
    for back in (OrderStatus.READY, OrderStatus.CONFIRMED):  # only the host undoes a check-off
        with pytest.raises(services.TransitionError):
            services.transition(sub, back, Actor.PRODUCER)
    db.session.commit()


def test_cancel_gives_stock_and_place_back_before_the_cut_off_only(db, market):
    m = market
    order = do_checkout(db, m, {str(m["carrots"].id): 4, str(m["eggs"].id): 5})
    db.session.commit()
    services.cancel(order, Actor.BUYER, now(), session=db.session, config=current_app.config)
    db.session.commit()
    db.session.expire_all()
    assert order.status == OrderStatus.CANCELLED
    assert {s.status for s in order.sub_orders} == {OrderStatus.CANCELLED}
    assert db.session.get(Variant, m["carrots"].id).stock == 10
    assert db.session.get(Variant, m["eggs"].id).stock == 20
    assert db.session.get(PickupSlot, m["slot"].id).taken == 0
    with pytest.raises(services.TransitionError):  # not twice
        services.cancel(order, Actor.BUYER, now(), session=db.session, config=current_app.config)
    second = do_checkout(db, m, {str(m["carrots"].id): 1})
    db.session.commit()
    with pytest.raises(services.TransitionError):  # past the cut-off
        services.cancel(second, Actor.BUYER, m["slot"].cutoff_at + timedelta(seconds=1),
            session=db.session, config=current_app.config)
    db.session.rollback()
    assert db.session.get(Order, second.id).status == OrderStatus.PENDING_PAYMENT


def test_expire_unpaid_is_idempotent(db, market):
    m = market
    order = services.checkout(db.session, buyer=m["buyer"], cart={str(m["carrots"].id): 3},
                              slot_id=m["slot"].id, now=now(), tz=TZ, hold=timedelta(minutes=30),
                                  config=current_app.config)
    keep = do_checkout(db, m, {str(m["eggs"].id): 1})
    db.session.commit()
    assert services.expire_unpaid(db.session, now(), config=current_app.config) == 0
    later = now() + timedelta(hours=1)
    assert services.expire_unpaid(db.session, later, config=current_app.config) == 1
    db.session.commit()
    assert services.expire_unpaid(db.session, later, config=current_app.config) == 0
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.session.get(Order, keep.id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.get(Variant, m["carrots"].id).stock == 10
    assert db.session.get(PickupSlot, m["slot"].id).taken == 1


# Concurrency against the file database ---------------------------------------------------

def race(app, db, buyers, make_cart, slot_id):
    barrier = threading.Barrier(len(buyers))
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    buyer_ids = [b.id for b in buyers]

    def run(buyer_id):
        try:
            with app.app_context():
                barrier.wait(timeout=60)
                outcome = "?"
                try:
                    with write_intent():
                        buyer = db.session.get(User, buyer_id)
                        try:
                            services.checkout(db.session, buyer=buyer, cart=make_cart(),
                                              slot_id=slot_id, now=now(), tz=TZ,
                                                  config=current_app.config)
                            db.session.commit()
                            outcome = "ok"
                        except services.CheckoutError as exc:
                            db.session.rollback()
                            outcome = exc.code
                finally:
                    db.session.remove()
                with lock:
                    results.append(outcome)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(bid,)) for bid in buyer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    assert len(results) == len(buyers)
    return results


def test_fifty_buyers_for_the_last_ten_units(app, db, market):
    m = market
    m["carrots"].stock = 10
    m["slot"].capacity = 100
    db.session.commit()
    buyers = [factories.user(commit=False) for _ in range(50)]
    db.session.commit()
    variant_id = m["carrots"].id
    results = race(app, db, buyers, lambda: {str(variant_id): 1}, m["slot"].id)
    assert results.count("ok") == 10
    assert set(results) == {"ok", services.NOT_ENOUGH_STOCK}
    db.session.rollback()  # end the test body's read snapshot
    assert db.session.get(Variant, variant_id).stock == 0
    assert counts(db) == (10, 10, 10)
    # No half-orders: every failed checkout left no order and no taken place.
    assert db.session.get(PickupSlot, m["slot"].id).taken == 10
    assert db.session.scalar(select(func.sum(OrderLine.quantity))) == 10


def test_thirty_buyers_for_twelve_places(app, db, market):
    m = market
    m["carrots"].stock = 500
    db.session.commit()
    buyers = [factories.user(commit=False) for _ in range(30)]
    db.session.commit()
    variant_id = m["carrots"].id
    results = race(app, db, buyers, lambda: {str(variant_id): 2}, m["slot"].id)
    assert results.count("ok") == 12
    assert set(results) == {"ok", services.SLOT_FULL}
    db.session.rollback()
    assert db.session.get(PickupSlot, m["slot"].id).taken == 12
    assert db.session.get(Variant, variant_id).stock == 500 - 24
    assert counts(db)[0] == 12


def test_food_miles_on_the_producer_pages(client, db, market, login):
    from geopy.distance import geodesic

    m = market
    order = services.checkout(db.session, buyer=m["buyer"], cart={str(m["eggs"].id): 2},
                              slot_id=m["slot"].id, now=now(), tz=TZ, config=current_app.config)
    db.session.commit()
    expected = geodesic((47.70, -2.70), VANNES).km
    [sub] = order.sub_orders
    assert sub.food_km == pytest.approx(expected, abs=0.01)
    miles = food_miles_of_producer(db.session, m["farm_b"].id)
    assert miles.orders == 1
    assert miles.average_km == pytest.approx(expected, abs=0.01)
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get(f"/producers/{m['farm_b'].id}").get_data(as_text=True)
    assert f"Food miles: 1 order, {expected:.1f} km" in page
    # A farm without orders says nothing of it; a cancelled order no longer counts.
    assert "Food miles" not in client.get(f"/producers/{m['farm_a'].id}").get_data(as_text=True)
    services.cancel(order, actor=Actor.BUYER, now=now(),
        session=db.session, config=current_app.config)
    db.session.commit()
    assert food_miles_of_producer(db.session, m["farm_b"].id).orders == 0
    login(m["farm_b"].user)
    assert "Food miles" not in client.get("/farm").get_data(as_text=True)


def test_food_miles_shown_when_a_slot_is_checked(client, db, market, login):
    from geopy.distance import geodesic

    m = market
    login(m["buyer"])
    with client.session_transaction() as session:
        session["lang"] = "en"
        session["cart"] = {str(m["carrots"].id): 1, str(m["eggs"].id): 1}
    page = client.get(f"/checkout?slot_id={m['slot'].id}").get_data(as_text=True)
    farm_a = db.session.get(type(m["farm_a"]), m["farm_a"].id)
    total = (geodesic((farm_a.latitude, farm_a.longitude), VANNES).km
             + geodesic((47.70, -2.70), VANNES).km)
    assert f"Food miles for this slot: {total:.1f} km from 2 farms" in page
