"""Standing orders (issue 6): a weekly template turned into an order per slot by an
idempotent job; pause, skip a week, and what cannot be reserved told at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import Variant
from marketplace.orders import services as orders
from marketplace.orders.models import Order, PaymentMethod
from marketplace.sqlite import write_intent
from marketplace.wholesale import standing as service
from marketplace.wholesale.standing import RunStatus, StandingOrderRun
from tests import factories
from tests.test_checkout_services import TZ, make_point, make_slot, serve


def now():
    return datetime.now(UTC)


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def kitchen(db):
    point = make_point(db, "Le Bistrot du Port")
    slot = make_slot(db, point, starts_in=timedelta(days=3), cutoff_in=timedelta(days=2),
                     capacity=20)
    farm = factories.producer(name="Ferme A")
    other = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 40),))
    eggs = factories.product(other, name="Œufs", variants=(("plateau de 30", 990, 3),))
    serve(db, farm, slot)
    serve(db, other, slot)
    restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
    first = orders.checkout(db.session, buyer=restaurant,
                            cart={str(leeks.variants[0].id): 10, str(eggs.variants[0].id): 2},
                            slot_id=slot.id, now=now(), tz=TZ,
                            payment_method=PaymentMethod.AT_PICKUP)
    db.session.commit()
    # The template repeats that order, for next week's date.
    next_week = make_slot(db, point, starts_in=timedelta(days=10), cutoff_in=timedelta(days=9),
                          capacity=20)
    standing = service.from_order(db.session, first, tz=TZ)
    db.session.commit()
    return {"point": point, "slot": slot, "next": next_week, "farm": farm, "other": other,
            "leeks": leeks.variants[0], "eggs": eggs.variants[0], "restaurant": restaurant,
            "standing": standing, "first": first}


def run(db, days=14):
    with write_intent():
        counts = service.run_standing(db.session, now=now(), tz=TZ, days_ahead=days)
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
    later = make_slot(db, k["point"], starts_in=timedelta(days=17),
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


def test_cli_run_standing_is_idempotent(app, db, kitchen):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["orders", "run-standing", "--days-ahead", "14"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["orders", "run-standing", "--days-ahead", "14"])
    assert "placed=0 partial=0 failed=0 skipped=0" in second.output


def test_a_restaurant_makes_a_standing_order_from_an_order(client, db, login, form_post,
                                                           kitchen):
    k = kitchen
    login(k["restaurant"])
    page = f"/orders/{k['first'].id}"
    assert "Repeat every week" in client.get(page).get_data(as_text=True)
    response = form_post(f"/restaurant/standing/from-order/{k['first'].id}", {}, page=page)
    assert response.status_code == 303
    assert db.session.scalar(select(func.count(service.StandingOrder.id))) == 2
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
        point = make_point(db, f"Point {n}")
        make_slot(db, point, starts_in=timedelta(days=2 + n), cutoff_in=timedelta(days=1 + n))
        db.session.add(service.StandingOrder(
            buyer_id=k["restaurant"].id, pickup_point_id=point.id, weekday=n,
            payment_method="at_pickup", name=point.name,
            lines=[service.StandingOrderLine(variant_id=k["leeks"].id, quantity=2)]))
    db.session.commit()
    assert client.get("/restaurant/standing").get_data(as_text=True).count("Point ") >= 3
    assert queries() == one
