"""Standing orders: a weekly template turned into an order per slot by an
idempotent job; pause, skip a week, and what cannot be reserved told at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import Variant
from marketplace.orders import services as orders
from marketplace.orders.models import Order, PaymentMethod
from marketplace.sqlite import write_intent
from marketplace.wholesale import standing as service
from marketplace.wholesale.models import RunStatus, StandingOrderRun
from tests import factories
from tests.clock import INSTANTS, now
from tests.factories import TZ


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def kitchen(db):
    point = factories.pickup_point("Le Bistrot du Port")
    slot = factories.slot(point, starts_in=timedelta(days=3), cutoff_in=timedelta(days=2),
                          capacity=20)
    farm = factories.producer(name="Ferme A")
    other = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 40),))
    eggs = factories.product(other, name="Œufs", variants=(("plateau de 30", 990, 3),))
    factories.delivery_round(farm, slot)
    factories.delivery_round(other, slot)
    restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
    first = orders.checkout(db.session, buyer=restaurant,
                            cart={str(leeks.variants[0].id): 10, str(eggs.variants[0].id): 2},
                            slot_id=slot.id, now=now(), tz=TZ,
                            payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
    db.session.commit()
    # The template repeats that order, for next week's date.
    next_week = factories.slot(point, starts_in=timedelta(days=10), cutoff_in=timedelta(days=9),
                               capacity=20)
    standing = service.from_order(db.session, first, tz=TZ)
    db.session.commit()
    return {"point": point, "slot": slot, "next": next_week, "farm": farm, "other": other,
            "leeks": leeks.variants[0], "eggs": eggs.variants[0], "restaurant": restaurant,
            "standing": standing, "first": first}


def run(db, days=14):
    with write_intent():
        counts = service.run_standing(db.session, now=now(), tz=TZ, days_ahead=days,
            config=current_app.config)
        db.session.commit()
    return counts


def test_running_twice_places_one_order(db, kitchen):
    k = kitchen
    assert len(k["standing"].lines) == 2
    # The order it repeats counts as its run for that date: the job places one order
    # for each other open date within reach, once.
    first = run(db)
    second = run(db)
    assert first["placed"] + first["partial"] >= 1
    assert second == {status.value: 0 for status in RunStatus}
    runs = db.session.scalars(select(StandingOrderRun)).all()
    assert len({(r.standing_order_id, r.pickup_slot_id) for r in runs}) == len(runs)
    next_orders = db.session.scalars(select(Order).where(
        Order.pickup_slot_id == k["next"].id)).all()
    assert len(next_orders) == 1
    assert next_orders[0].buyer_id == k["restaurant"].id
    same_date = db.session.scalars(select(Order).where(
        Order.pickup_slot_id == k["slot"].id)).all()
    assert [o.id for o in same_date] == [k["first"].id]  # no second order that day


def test_two_runners_at_once_place_one_order(app, db, kitchen):
    k = kitchen
    errors = []

    def runner():
        with app.app_context():
            try:
                run(db)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.rollback()  # end the test's read snapshot (SQLite): see what the runners did
    assert db.session.scalar(select(func.count(Order.id)).where(
        Order.pickup_slot_id == k["next"].id)) == 1


def test_paused_or_skipped_weeks_place_nothing(db, kitchen):
    k = kitchen
    assert service.skip(db.session, k["standing"], k["next"].id)
    assert not service.skip(db.session, k["standing"], k["next"].id)  # once
    db.session.commit()
    run(db)
    assert db.session.scalar(select(func.count(Order.id)).where(
        Order.pickup_slot_id == k["next"].id)) == 0
    later = factories.slot(k["point"], starts_in=timedelta(days=17),
                           cutoff_in=timedelta(days=16), capacity=20)
    k["standing"].active = False
    db.session.commit()
    run(db, days=21)
    assert db.session.scalar(select(func.count(Order.id)).where(
        Order.pickup_slot_id == later.id)) == 0


def test_what_cannot_be_reserved_is_left_out_and_told(db, kitchen, mailbox):
    k = kitchen
    # Only 1 tray of eggs left (3 - 2 already ordered): the template wants 2.
    run(db)
    placed = db.session.scalar(select(Order).where(Order.pickup_slot_id == k["next"].id))
    assert [line.product_name for line in placed.lines] == ["Poireaux"]
    run_row = db.session.scalar(select(StandingOrderRun).where(
        StandingOrderRun.pickup_slot_id == k["next"].id))
    assert run_row.status == RunStatus.PARTIAL
    assert "Œufs" in run_row.message
    assert db.session.get(Variant, k["eggs"].id).stock == 1  # nothing taken for eggs
    told = {m["To"] for m in mailbox.wait_for(3)}
    assert k["restaurant"].email in told
    assert k["other"].user.email in told  # the farm whose eggs are missing


def test_standing_pages(client, db, login, form_post, kitchen):
    k = kitchen
    login(k["restaurant"])
    page = client.get("/restaurant/standing").get_data(as_text=True)
    assert "Poireaux" in page
    response = form_post(f"/restaurant/standing/{k['standing'].id}/pause", {},
                         page="/restaurant/standing")
    assert response.status_code == 303
    db.session.expire_all()
    assert not db.session.get(service.StandingOrder, k["standing"].id).active
    runs = db.session.scalar(select(func.count(StandingOrderRun.id)))
    bad = form_post(f"/restaurant/standing/{k['standing'].id}/skip", {"slot_id": "999999"},
                    page="/restaurant/standing")
    assert bad.status_code == 303
    assert db.session.scalar(select(func.count(StandingOrderRun.id))) == runs
    # Another restaurant cannot touch it.
    with client.session_transaction() as session:
        session.clear()
        session["lang"] = "en"
    login(factories.user(Role.RESTAURANT))
    other = form_post(f"/restaurant/standing/{k['standing'].id}/pause", {},
                      page="/restaurant/standing")
    assert other.status_code == 404
    # A household has no standing orders page.
    with client.session_transaction() as session:
        session.clear()
    login(factories.user(Role.HOUSEHOLD))
    assert client.get("/restaurant/standing").status_code == 403


@pytest.mark.parametrize("clock", INSTANTS, indirect=True)
def test_cli_run_standing_is_idempotent(app, db, kitchen, clock):
    next_week = kitchen["next"].id
    runner = app.test_cli_runner()
    # The command reads the clock itself. Next week's date, the same local weekday, gets
    # its order (without the eggs: 1 tray left of the 2 wanted).
    first = runner.invoke(args=["orders", "run-standing", "--days-ahead", "14"])
    assert first.exit_code == 0, first.output
    assert "placed=0 partial=1 failed=0 skipped=0" in first.output
    second = runner.invoke(args=["orders", "run-standing", "--days-ahead", "14"])
    assert "placed=0 partial=0 failed=0 skipped=0" in second.output
    assert db.session.scalar(select(func.count(Order.id)).where(
        Order.pickup_slot_id == next_week)) == 1


def test_a_restaurant_makes_a_standing_order_from_an_order(client, db, login, form_post,
                                                           kitchen):
    k = kitchen
    login(k["restaurant"])
    page = f"/orders/{k['first'].id}"
    assert "Repeat every week" in client.get(page).get_data(as_text=True)
    response = form_post(f"/restaurant/standing/from-order/{k['first'].id}", {}, page=page)
    # The fixture's template already repeats this order: no twin, the existing one shown.
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/restaurant/standing#standing-"
                                                 f"{k['standing'].id}")
    assert db.session.scalar(select(func.count(service.StandingOrder.id))) == 1
    # Another buyer's order cannot be turned into one.
    with client.session_transaction() as session:
        session.clear()
    login(factories.user(Role.RESTAURANT))
    other = form_post(f"/restaurant/standing/from-order/{k['first'].id}", {},
                      page="/restaurant/standing")
    assert other.status_code == 404


def test_standing_orders_page_issues_a_fixed_number_of_queries(client, db, login, kitchen,
                                                               count_queries):
    k = kitchen
    login(k["restaurant"])

    def queries():
        with count_queries() as statements:
            assert client.get("/restaurant/standing").status_code == 200
        return len(statements)

    one = queries()
    for n in range(3):  # more templates, at other points and days
        point = factories.pickup_point(f"Point {n}")
        factories.slot(point, starts_in=timedelta(days=2 + n), cutoff_in=timedelta(days=1 + n))
        db.session.add(service.StandingOrder(
            buyer_id=k["restaurant"].id, pickup_point_id=point.id, weekday=n,
            payment_method="at_pickup", name=point.name,
            lines=[service.StandingOrderLine(variant_id=k["leeks"].id, quantity=2)]))
    db.session.commit()
    assert client.get("/restaurant/standing").get_data(as_text=True).count("Point ") >= 3
    assert queries() == one


# Made once, from a confirmed order (audit finding 1) ---------------------------------------

def count_templates(db):
    return db.session.scalar(select(func.count(service.StandingOrder.id)))


def repeat(client, form_post, order):
    page = f"/orders/{order.id}"
    return form_post(f"/restaurant/standing/from-order/{order.id}", {}, page=page)


def test_repeat_every_week_twice_makes_one_template_and_one_order_a_date(
        client, db, login, form_post, kitchen):
    k = kitchen
    # Another order of the restaurant, a week later, with other lines.
    again = orders.checkout(db.session, buyer=k["restaurant"],
                            cart={str(k["leeks"].id): 5},
                            slot_id=k["next"].id, now=now(), tz=TZ,
                            payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
    db.session.commit()
    db.session.delete(db.session.get(service.StandingOrder, k["standing"].id))
    db.session.commit()
    login(k["restaurant"])
    first = repeat(client, form_post, k["first"])
    assert first.status_code == 303
    [template] = db.session.scalars(select(service.StandingOrder)).all()
    for _click in range(2):
        response = repeat(client, form_post, k["first"])
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"#standing-{template.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This order already repeats every week." in page
    assert count_templates(db) == 1
    # Another order with other quantities is another template...
    assert repeat(client, form_post, again).status_code == 303
    assert count_templates(db) == 2
    # ...but an order with the same point, weekday and lines finds it, even paused.
    same = orders.checkout(db.session, buyer=k["restaurant"],
                           cart={str(k["leeks"].id): 5},
                           slot_id=k["slot"].id, now=now(), tz=TZ,
                           payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
    db.session.commit()
    twin = db.session.scalar(select(service.StandingOrder).where(
        service.StandingOrder.id != template.id))
    twin.active = False
    db.session.commit()
    response = repeat(client, form_post, same)
    assert response.headers["Location"].endswith(f"#standing-{twin.id}")
    assert "paused: resume it here" in client.get("/restaurant/standing").get_data(
        as_text=True)
    assert count_templates(db) == 2
    # The job places one order per date and active template, never two identical ones.
    twin.active = True
    db.session.get(Variant, k["leeks"].id).stock = 100
    db.session.commit()
    later = factories.slot(k["point"], starts_in=timedelta(days=17),
                           cutoff_in=timedelta(days=16), capacity=20)
    run(db, days=21)
    placed = db.session.scalars(select(Order).where(Order.pickup_slot_id == later.id)).all()
    assert sorted(sum(line.quantity for line in order.lines
                      if line.variant_id == k["leeks"].id) for order in placed) == [5, 10]


def test_two_clicks_at_once_make_one_template(app, db, kitchen):
    k = kitchen
    db.session.delete(db.session.get(service.StandingOrder, k["standing"].id))
    db.session.commit()
    errors, made = [], []
    order_id = k["first"].id

    def click():
        with app.app_context(), app.test_request_context(), write_intent():
            try:
                order = db.session.get(Order, order_id)
                made.append(service.from_order(db.session, order, tz=TZ).id)
                db.session.commit()
            except service.StandingOrderExists:
                db.session.rollback()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.rollback()
    assert len(made) == 1
    assert count_templates(db) == 1


@pytest.mark.parametrize("state", ["cancelled", "pending_payment"])
def test_an_order_not_confirmed_does_not_repeat(client, db, login, form_post, kitchen, state):
    k = kitchen
    if state == "cancelled":
        order = orders.checkout(db.session, buyer=k["restaurant"],
                                cart={str(k["leeks"].id): 3}, slot_id=k["next"].id,
                                now=now(), tz=TZ, payment_method=PaymentMethod.AT_PICKUP,
                                    config=current_app.config)
        db.session.commit()
        with client.application.test_request_context():
            orders.cancel(order, orders.Actor.BUYER, now(),
                session=db.session, config=current_app.config)
        message = "A cancelled order cannot repeat every week."
    else:
        order = orders.checkout(db.session, buyer=k["restaurant"],
                                cart={str(k["leeks"].id): 3}, slot_id=k["next"].id,
                                now=now(), tz=TZ, payment_method=PaymentMethod.CARD,
                                    config=current_app.config)
        message = "This order is not confirmed yet"
    db.session.commit()
    login(k["restaurant"])
    response = repeat(client, form_post, order)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_templates(db) == 1  # the fixture's only


# How the job's orders are paid (audit finding 2) --------------------------------------------

@pytest.fixture
def weekly(db):
    """A restaurant's card template for a date 10 days away, at a point that takes (or
    not) payment at pickup."""
    from marketplace.pickup.rounds import local_weekday

    point = factories.pickup_point("Halles")
    slot = factories.slot(point, starts_in=timedelta(days=10), cutoff_in=timedelta(days=9),
                          capacity=20)
    farm = factories.producer(name="Ferme A")
    leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 40),)).variants[0]
    factories.delivery_round(farm, slot)
    restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
    standing = service.StandingOrder(buyer_id=restaurant.id, pickup_point_id=point.id,
                                     weekday=local_weekday(slot, TZ), payment_method="card",
                                     name=point.name)
    standing.lines.append(service.StandingOrderLine(variant_id=leeks.id, quantity=5))
    db.session.add(standing)
    db.session.commit()
    return {"point": point, "slot": slot, "leeks": leeks, "restaurant": restaurant,
            "standing": standing}


def give_terms(db, user, days=30):
    factories.restaurant_profile(user, terms=days)


@pytest.mark.parametrize(("terms", "at_pickup", "method", "status"), [
    (True, False, PaymentMethod.INVOICE, "confirmed"),
    (True, True, PaymentMethod.INVOICE, "confirmed"),
    (False, True, PaymentMethod.AT_PICKUP, "confirmed"),
])
def test_the_job_places_a_card_template_on_terms_or_at_pickup_when_it_can(
        db, weekly, terms, at_pickup, method, status):
    w = weekly
    if terms:
        give_terms(db, w["restaurant"])
    w["point"].accepts_pay_at_pickup = at_pickup
    db.session.commit()
    assert run(db)["placed"] == 1
    order = db.session.scalar(select(Order).where(Order.pickup_slot_id == w["slot"].id))
    assert order.payment_method == method
    assert order.status == status


def test_a_template_keeps_its_own_way_to_pay_while_it_can(db, weekly):
    w = weekly
    give_terms(db, w["restaurant"])  # invoice would do, but it chose pay at pickup
    w["standing"].payment_method = "at_pickup"
    db.session.commit()
    run(db)
    order = db.session.scalar(select(Order).where(Order.pickup_slot_id == w["slot"].id))
    assert order.payment_method == PaymentMethod.AT_PICKUP


def test_the_job_asks_the_restaurant_to_pay_a_card_order_at_once(db, weekly, mailbox):
    w = weekly
    w["point"].accepts_pay_at_pickup = False  # like a restaurant's door
    db.session.commit()
    started = now()
    with write_intent():
        counts = service.run_standing(db.session, now=started, tz=TZ, days_ahead=14,
            config=current_app.config)
        db.session.commit()
    assert counts["placed"] == 1
    order = db.session.scalar(select(Order).where(Order.pickup_slot_id == w["slot"].id))
    assert order.payment_method == PaymentMethod.CARD
    assert order.status == "pending_payment"
    # Its items are held a day for the restaurant to pay, not until the cut-off.
    assert order.expires_at == started + service.CARD_HOLD
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == w["restaurant"].email
    assert f"/orders/{order.id}/pay" in mail.get_content()
    # Unpaid by then, it expires like any card order: the items go back.
    with write_intent():
        assert orders.expire_unpaid(db.session, started + service.CARD_HOLD,
            config=current_app.config) == 1
        db.session.commit()
    assert db.session.get(Variant, w["leeks"].id).stock == 40
    # Running again asks once.
    run(db)
    mailbox.wait_for(2)  # the cancellation
    assert len([m for m in mailbox.wait_for(2) if f"/orders/{order.id}/pay"
                in m.get_content()]) == 1


def test_without_any_way_to_pay_nothing_is_held_and_the_restaurant_is_told(
        app, db, weekly, mailbox):
    w = weekly
    w["point"].accepts_pay_at_pickup = False
    db.session.commit()
    config = dict(app.config, STRIPE_SECRET_KEY="")
    with write_intent():
        counts = service.run_standing(db.session, now=now(), tz=TZ, days_ahead=14,
                                      config=config)
        db.session.commit()
    assert counts["failed"] == 1
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.get(Variant, w["leeks"].id).stock == 40
    told = {m["To"] for m in mailbox.wait_for(2)}
    assert w["restaurant"].email in told


# The standing page: no skip for a placed date, delete (audit finding 3) ---------------------

def skip_form(slot):
    return f'name="slot_id" value="{slot.id}"'


def test_a_placed_date_offers_no_skip_and_refuses_one(client, db, login, form_post, kitchen):
    k = kitchen
    login(k["restaurant"])
    page = client.get("/restaurant/standing").get_data(as_text=True)
    # The first date has the order the template was made from; next week's is open.
    assert skip_form(k["slot"]) not in page
    assert f"order {k['first'].id}" in page
    assert skip_form(k["next"]) in page
    run(db)
    page = client.get("/restaurant/standing").get_data(as_text=True)
    assert skip_form(k["next"]) not in page
    runs = db.session.scalar(select(func.count(StandingOrderRun.id)))
    refused = form_post(f"/restaurant/standing/{k['standing'].id}/skip",
                        {"slot_id": str(k["next"].id)}, page="/restaurant/standing")
    assert refused.status_code == 409
    assert "already placed" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(StandingOrderRun.id))) == runs
    assert db.session.scalar(select(func.count(Order.id)).where(
        Order.pickup_slot_id == k["next"].id, Order.status == "confirmed")) == 1


def test_a_skipped_date_shows_skipped(client, db, login, form_post, kitchen):
    k = kitchen
    login(k["restaurant"])
    response = form_post(f"/restaurant/standing/{k['standing'].id}/skip",
                         {"slot_id": str(k["next"].id)}, page="/restaurant/standing")
    assert response.status_code == 303
    page = client.get("/restaurant/standing").get_data(as_text=True)
    assert skip_form(k["next"]) not in page
    assert f'data-slot="{k["next"].id}">' in page
    assert ": skipped</span>" in page


def test_a_restaurant_deletes_its_standing_order(client, db, login, form_post, kitchen):
    k = kitchen
    run(db)  # an order placed for next week: it stays
    placed = db.session.scalar(select(Order.id).where(Order.pickup_slot_id == k["next"].id))
    url = f"/restaurant/standing/{k['standing'].id}/delete"
    login(factories.user(Role.RESTAURANT))
    assert form_post(url, {}, page="/restaurant/standing").status_code == 404
    with client.session_transaction() as session:
        session.clear()
        session["lang"] = "en"
    login(k["restaurant"])
    assert client.post(url).status_code == 400  # no CSRF token
    assert count_templates(db) == 1
    response = form_post(url, {}, page="/restaurant/standing")
    assert response.status_code == 303
    assert count_templates(db) == 0
    assert db.session.scalar(select(func.count(StandingOrderRun.id))) == 0
    assert db.session.get(Order, placed).status == "confirmed"
    assert "Standing order deleted" in client.get("/restaurant/standing").get_data(
        as_text=True)
    assert form_post(url, {}, page="/restaurant/standing").status_code == 404
