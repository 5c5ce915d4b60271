"""After checkout: the farm's incoming orders, pick and packing lists (HTML,
print, CSV), ready and short; the host's distribution sheet and check-off; a closed
date's orders moved or cancelled; reorder; the expiry command."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.catalogue.models import Variant
from marketplace.orders import fulfilment, services
from marketplace.orders.models import (
    Actor,
    CounterPayment,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
)
from marketplace.pickup.models import PickupPoint, PickupSlot, SlotStatus
from marketplace.reports import pick_lists
from tests import factories
from tests.clock import INSTANTS, now


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def market(hosted_market):
    """A hosted point with a slot, two farms serving it, three buyers."""
    return hosted_market


def sign_out(client):
    with client.session_transaction() as session:
        session.clear()
        session["lang"] = "en"


def test_pick_list_sums_each_variant_in_one_query(db, market, count_queries):
    m = market
    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["eggs"].id: 1})
    factories.order(m["buyers"][1], m["slot"], {m["carrots"].id: 3, m["leeks"].id: 1})
    cancelled = factories.order(m["buyers"][2], m["slot"], {m["carrots"].id: 7})
    services.cancel(cancelled, Actor.BUYER, now(), session=db.session, config=current_app.config)
    # An unpaid card order is not sure yet: not on the list.
    factories.order(m["buyers"][2], m["slot"], {m["carrots"].id: 11}, method=PaymentMethod.CARD)
    db.session.commit()
    farm_id, slot_id = m["farm"].id, m["slot"].id
    with count_queries() as queries:
        lines = pick_lists.pick_list(db.session, farm_id, slot_id)
    assert len(queries) == 1
    assert [(ln.product_name, ln.quantity, ln.buyers) for ln in lines] == [
        ("=Poireaux", 1, 1), ("Carottes", 5, 2)]
    # The other farm's list holds only its eggs.
    other = pick_lists.pick_list(db.session, m["other_farm"].id, m["slot"].id)
    assert [(ln.product_name, ln.quantity) for ln in other] == [("Œufs", 1)]


def test_mark_ready_with_short_units_lowers_what_is_due(db, market):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 4, m["eggs"].id: 1})
    sub = next(s for s in order.sub_orders if s.producer_id == m["farm"].id)
    line = sub.lines[0]
    fulfilment.mark_ready(db.session, sub, now=now(), shorts={line.id: 1},
        config=current_app.config)
    db.session.commit()
    assert sub.status == OrderStatus.READY
    assert sub.ready_at is not None
    assert order.status == OrderStatus.CONFIRMED  # the other farm is not ready yet
    assert line.supplied_total_cents == 3 * 350
    assert order.amount_due_cents == 3 * 350 + 597
    other = next(s for s in order.sub_orders if s.producer_id == m["other_farm"].id)
    fulfilment.mark_ready(db.session, other, now=now(), config=current_app.config)
    db.session.commit()
    assert order.status == OrderStatus.READY
    picked = pick_lists.pick_list(db.session, m["farm"].id, m["slot"].id)
    assert [(p.quantity, p.short, p.to_pick) for p in picked] == [(4, 1, 3)]


@pytest.mark.parametrize("raw", ["-1", "5", "1.5", "deux", "１", "9" * 5000])
def test_parse_shorts_refuses_bad_quantities(app, db, market, raw):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 4})
    sub = order.sub_orders[0]
    with pytest.raises(fulfilment.FulfilmentError) as error:
        fulfilment.parse_shorts(sub, {sub.lines[0].id: raw})
    with app.test_request_context():
        assert "Carottes" in str(error.value.message)
        assert "de 0 à 4" in str(error.value.message)  # French by default


def test_collected_needs_the_payment_of_a_pay_at_pickup_order(db, market):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 1})
    with pytest.raises(fulfilment.FulfilmentError):
        fulfilment.mark_collected(db.session, order, now=now(), config=current_app.config)
    fulfilment.mark_collected(db.session, order, now=now(), paid_with=CounterPayment.CHEQUE,
        config=current_app.config)
    db.session.commit()
    assert order.status == OrderStatus.COLLECTED
    assert order.paid_with == CounterPayment.CHEQUE
    assert all(s.status == OrderStatus.COLLECTED and s.collected_at for s in order.sub_orders)
    # Ticked twice: nothing changes. Undone: back to prepare (the farm never said it was
    # ready) and to pay again.
    fulfilment.mark_collected(db.session, order, now=now(), config=current_app.config)
    fulfilment.undo_collected(db.session, order, now=now())
    db.session.commit()
    assert order.status == OrderStatus.CONFIRMED
    assert [s.status for s in order.sub_orders] == [OrderStatus.CONFIRMED]
    assert order.paid_at is None
    # Marked ready by its farm, handed over, undone: ready again.
    fulfilment.mark_ready(db.session, order.sub_orders[0], now=now(), config=current_app.config)
    fulfilment.mark_collected(db.session, order, now=now(), paid_with=CounterPayment.CASH,
        config=current_app.config)
    fulfilment.undo_collected(db.session, order, now=now())
    db.session.commit()
    assert order.status == OrderStatus.READY
    assert [s.status for s in order.sub_orders] == [OrderStatus.READY]


def test_move_orders_takes_all_places_or_none(app, db, market):
    m = market
    orders = [factories.order(b, m["slot"], {m["carrots"].id: 1}) for b in m["buyers"]]
    small = factories.slot(m["point"], starts_in=timedelta(days=5), cutoff_in=timedelta(days=4),
                           capacity=2)
    # Ferme A does not come to the point on that day: its orders cannot go there.
    with pytest.raises(fulfilment.FulfilmentError) as error:
        fulfilment.move_orders(db.session, m["slot"], small, now=now(), tz="Europe/Paris")
    with app.test_request_context():
        assert str(error.value.message).startswith("Ferme A ne livre")
    db.session.rollback()
    assert db.session.get(PickupSlot, small.id).taken == 0
    factories.delivery_round(m["farm"], small)
    with pytest.raises(fulfilment.FulfilmentError) as error:
        fulfilment.move_orders(db.session, m["slot"], small, now=now(), tz="Europe/Paris")
    with app.test_request_context():
        assert "2 place(s) libre(s) pour 3 commande(s)" in str(error.value.message)
    db.session.rollback()
    moved = fulfilment.move_orders(db.session, m["slot"], m["later"], now=now(), reason="Férié",
        tz="Europe/Paris")
    db.session.commit()
    assert moved == 3
    db.session.expire_all()
    assert {db.session.get(Order, o.id).pickup_slot_id for o in orders} == {m["later"].id}
    assert db.session.get(PickupSlot, m["slot"].id).taken == 0
    assert db.session.get(PickupSlot, m["later"].id).taken == 3
    assert db.session.get(PickupSlot, small.id).taken == 0
    # Another point's date is refused.
    elsewhere = factories.slot(factories.pickup_point("Mairie"), starts_in=timedelta(days=6))
    with pytest.raises(fulfilment.FulfilmentError):
        fulfilment.move_orders(db.session, m["later"], elsewhere, now=now(), tz="Europe/Paris")


def test_reorder_lines_leave_out_what_is_no_longer_sold(db, market):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["leeks"].id: 1})
    db.session.get(Variant, m["leeks"].id).is_active = False
    db.session.commit()
    wanted, missing = fulfilment.reorder_lines(db.session, order)
    assert wanted == {m["carrots"].id: 2}
    assert missing == ["=Poireaux (botte)"]


def test_reorder_brings_back_a_variant_now_wholesale_only_for_an_approved_restaurant_only(
        db, market):
    from marketplace.catalogue.models import SaleMode

    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["eggs"].id: 1})
    db.session.get(Variant, m["eggs"].id).sale_mode = SaleMode.WHOLESALE
    db.session.commit()
    wanted, missing = fulfilment.reorder_lines(db.session, order, buyer=m["buyers"][0])
    assert wanted == {m["carrots"].id: 2}
    assert missing == ["Œufs (douzaine)"]
    for restaurant, expected in ((factories.user(Role.RESTAURANT, approved=False), 1),
                                 (factories.user(Role.RESTAURANT), 2)):
        wanted, _missing = fulfilment.reorder_lines(db.session, order, buyer=restaurant)
        assert len(wanted) == expected


# Web: the farm ---------------------------------------------------------------------------

def test_farm_sees_its_incoming_orders_and_lists(client, db, login, market):
    m = market
    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["eggs"].id: 1})
    factories.order(m["buyers"][1], m["slot"], {m["leeks"].id: 3})
    login(m["farm"].user)
    listing = client.get("/farm/orders").get_data(as_text=True)
    assert f'data-slot="{m["slot"].id}"' in listing
    page = client.get(f"/farm/orders/slots/{m['slot'].id}").get_data(as_text=True)
    assert "Pick list" in page
    assert "Carottes" in page
    assert "=Poireaux" in page
    assert "Œufs" not in page  # the other farm's line
    assert page.index("Ali") < page.index("Zoé")  # packing list by buyer name
    response = client.get(f"/farm/orders/slots/{m['slot'].id}/pick-list.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["product", "variant", "quantity"]
    # A cell that a spreadsheet would run as a formula is escaped.
    assert ["'=Poireaux", "botte", "3", "0", "3", "1"] in rows
    assert ["Carottes", "1 kg", "2", "0", "2", "1"] in rows
    packing = client.get(f"/farm/orders/slots/{m['slot'].id}/packing-list.csv")
    rows = list(csv.reader(io.StringIO(packing.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 3
    assert {r[1] for r in rows[1:]} == {"Zoé", "Ali"}
    assert "attachment" in packing.headers["Content-Disposition"]


def test_farm_pages_issue_a_fixed_number_of_queries(client, db, login, market, count_queries):
    m = market
    login(m["farm"].user)

    def counted():
        with count_queries() as queries:
            assert client.get(f"/farm/orders/slots/{m['slot'].id}").status_code == 200
            assert client.get("/farm/orders").status_code == 200
        return len(queries)

    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 1})
    few = counted()
    for buyer in [factories.user() for _ in range(6)]:
        factories.order(buyer, m["slot"], {m["carrots"].id: 1, m["leeks"].id: 2})
    assert counted() == few


def test_farm_marks_ready_with_missing_units(client, db, login, form_post, market, mailbox):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 4})
    sub = order.sub_orders[0]
    buyer_email = m["buyers"][0].email
    mailbox.wait_for(1)  # the confirmation
    mailbox.clear()
    login(m["farm"].user)
    page = f"/farm/orders/slots/{m['slot'].id}"
    for typed in ("9", "9" * 5000):  # 5000 digits: too long for int() (a 500 once)
        bad = form_post(f"/farm/orders/sub-orders/{sub.id}/ready",
                        {f"short-{sub.lines[0].id}": typed}, page=page)
        assert bad.status_code == 400
        assert "the missing quantity must be a whole number from 0 to 4" in \
            bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OrderLine, sub.lines[0].id).quantity_short == 0
    ok = form_post(f"/farm/orders/sub-orders/{sub.id}/ready",
                   {f"short-{sub.lines[0].id}": "1"}, page=page)
    assert ok.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.READY
    buyer_view = db.session.get(Order, order.id)
    assert buyer_view.amount_due_cents == 3 * 350
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == buyer_email
    assert f"Commande {order.id}" in mail["Subject"]
    assert "Ferme A" in mail["Subject"]


def test_another_farms_sub_order_is_not_found(client, db, login, form_post, market):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["eggs"].id: 1})
    login(m["farm"].user)
    response = form_post(f"/farm/orders/sub-orders/{order.sub_orders[0].id}/ready", {},
                         page="/farm/orders")
    assert response.status_code == 404
    assert client.get("/farm/orders/slots/999999").status_code == 404
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


# Web: the host -----------------------------------------------------------------------------

def test_host_distribution_sheet_and_check_off(client, db, login, form_post, market):
    m = market
    zoe = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["eggs"].id: 1})
    factories.order(m["buyers"][1], m["slot"], {m["leeks"].id: 1})
    login(m["host"])
    url = f"/pickup/slots/{m['slot'].id}/sheet"
    page = client.get(url).get_data(as_text=True)
    assert "Zoé" in page
    assert "Ali" in page
    assert "Ferme A" in page
    assert "Ferme B" in page
    assert "To pay: €12.97" in page
    assert "2 orders left to hand over" in page
    target = f"/pickup/slots/{m['slot'].id}/orders/{zoe.id}/collected"
    missing = form_post(target, {}, page=url)
    assert missing.status_code == 400
    assert "Say how the buyer paid" in missing.get_data(as_text=True)
    assert form_post(target, {"paid_with": "bitcoin"}, page=url).status_code == 400
    db.session.expire_all()
    assert db.session.get(Order, zoe.id).status == OrderStatus.CONFIRMED
    done = form_post(target, {"paid_with": "cash"}, page=url)
    assert done.status_code == 303
    db.session.expire_all()
    order = db.session.get(Order, zoe.id)
    assert order.status == OrderStatus.COLLECTED
    assert order.paid_with == CounterPayment.CASH
    page = client.get(url).get_data(as_text=True)
    assert "Paid at the counter (Cash)" in page
    assert "1 order left to hand over" in page
    undo = form_post(f"/pickup/slots/{m['slot'].id}/orders/{zoe.id}/undo", {}, page=url)
    assert undo.status_code == 303
    db.session.expire_all()
    # Back to where it was: confirmed (its farm had not marked it ready), to pay again.
    assert db.session.get(Order, zoe.id).status == OrderStatus.CONFIRMED
    assert db.session.get(Order, zoe.id).paid_at is None


def test_sheet_of_another_hosts_point_is_not_found(client, db, login, form_post, market):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 1})
    login(factories.user(Role.HOST))
    assert client.get(f"/pickup/slots/{m['slot'].id}/sheet").status_code == 404
    other_slot = factories.slot(factories.pickup_point("Ailleurs"))
    # An order named through a slot it does not belong to is not found either.
    sign_out(client)
    login(m["host"])
    response = form_post(f"/pickup/slots/{other_slot.id}/orders/{order.id}/collected",
                         {"paid_with": "cash"}, page=f"/pickup/slots/{m['slot'].id}/sheet")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CONFIRMED


def test_sheet_issues_a_fixed_number_of_queries(client, db, login, market, count_queries):
    m = market
    login(m["host"])

    def counted():
        with count_queries() as queries:
            assert client.get(f"/pickup/slots/{m['slot'].id}/sheet").status_code == 200
        return len(queries)

    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 1})
    few = counted()
    for buyer in [factories.user() for _ in range(6)]:
        factories.order(buyer, m["slot"], {m["carrots"].id: 1, m["eggs"].id: 2})
    assert counted() == few


def test_closing_a_date_with_orders_asks_where_they_go(client, db, login, form_post, market,
                                                       mailbox):
    m = market
    orders = [factories.order(b, m["slot"], {m["carrots"].id: 2}) for b in m["buyers"][:2]]
    emails = {b.email for b in m["buyers"][:2]}
    mailbox.wait_for(2)  # the confirmations
    mailbox.clear()
    login(m["host"])
    page = f"/pickup/points/{m['point'].id}"
    url = f"/pickup/points/{m['point'].id}/slots/{m['slot'].id}/close"
    asked = form_post(url, {"reason": "Férié"}, page=page)
    assert asked.status_code == 400
    assert "This date has 2 orders" in asked.get_data(as_text=True)
    full = factories.slot(m["point"], starts_in=timedelta(days=5), cutoff_in=timedelta(days=4),
                          capacity=1)
    refused = form_post(url, {"reason": "Férié", "then": f"move:{full.id}"}, page=page)
    assert refused.status_code == 409
    db.session.expire_all()
    assert db.session.get(PickupSlot, m["slot"].id).status == SlotStatus.OPEN  # nothing done
    moved = form_post(url, {"reason": "Férié", "then": f"move:{m['later'].id}"}, page=page)
    assert moved.status_code == 302
    db.session.expire_all()
    assert db.session.get(PickupSlot, m["slot"].id).status == SlotStatus.CLOSED
    assert {db.session.get(Order, o.id).pickup_slot_id for o in orders} == {m["later"].id}
    assert db.session.get(PickupSlot, m["later"].id).taken == 2
    notices = mailbox.wait_for(2)
    assert {mail["To"] for mail in notices} == emails
    assert all("Férié" in mail.get_content() for mail in notices)  # the host's reason


def test_closing_a_date_can_cancel_its_orders(client, db, login, form_post, market, mailbox):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 5})
    mailbox.wait_for(1)
    mailbox.clear()
    login(m["host"])
    response = form_post(f"/pickup/points/{m['point'].id}/slots/{m['slot'].id}/close",
                         {"reason": "Inondation", "then": "cancel"},
                         page=f"/pickup/points/{m['point'].id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.session.get(Variant, m["carrots"].id).stock == 50
    assert db.session.get(PickupSlot, m["slot"].id).taken == 0
    [mail] = mailbox.wait_for(1)
    assert f"Commande {order.id} annulée" == mail["Subject"]
    assert "Inondation" in mail.get_content()


# Web: the buyer ----------------------------------------------------------------------------

def test_reorder_puts_the_items_back_in_the_cart(client, db, login, form_post, market):
    m = market
    buyer = m["buyers"][0]
    order = factories.order(buyer, m["slot"], {m["carrots"].id: 2, m["leeks"].id: 1})
    db.session.get(Variant, m["leeks"].id).is_active = False
    db.session.commit()
    login(buyer)
    response = form_post(f"/orders/{order.id}/reorder", {}, page=f"/orders/{order.id}")
    assert response.status_code == 303
    assert response.location.endswith("/cart")
    with client.session_transaction() as session:
        assert session["cart"] == {str(m["carrots"].id): 2}
    cart = client.get("/cart").get_data(as_text=True)
    assert "No longer sold" in cart
    assert "=Poireaux (botte)" in cart
    # Another buyer's order cannot be reordered.
    sign_out(client)
    login(m["buyers"][1])
    other = form_post(f"/orders/{order.id}/reorder", {}, page="/orders")
    assert other.status_code == 404


def test_checkout_refuses_an_unknown_payment_method(client, db, login, form_post, market):
    m = market
    login(m["buyers"][0])
    with client.session_transaction() as session:
        session["cart"] = {str(m["carrots"].id): 1}
    response = form_post("/checkout", {"slot_id": str(m["slot"].id),
                                       "payment_method": "free"})
    assert response.status_code == 400
    assert "Choose how to pay." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Order.id))) == 0
    with client.session_transaction() as session:
        assert session["cart"] == {str(m["carrots"].id): 1}  # the cart is kept


def test_point_without_pay_at_pickup_refuses_it(db, market):
    m = market
    db.session.get(PickupPoint, m["point"].id).accepts_pay_at_pickup = False
    db.session.commit()
    with pytest.raises(services.CheckoutError) as error:
        factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 1})
    assert error.value.code == services.PAYMENT_METHOD
    db.session.rollback()
    assert db.session.get(Variant, m["carrots"].id).stock == 50


@pytest.mark.parametrize("clock", INSTANTS, indirect=True)
def test_expire_unpaid_command(app, db, market, clock):
    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 3},
                            method=PaymentMethod.CARD)
    kept = factories.order(m["buyers"][1], m["slot"], {m["carrots"].id: 1},
                           method=PaymentMethod.CARD)
    db.session.get(Order, order.id).expires_at = clock.start - timedelta(minutes=1)
    db.session.get(Order, kept.id).expires_at = clock.start + timedelta(minutes=1)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orders", "expire-unpaid"])  # reads the clock itself
    assert result.exit_code == 0, result.output
    assert "1 unpaid order(s) expired." in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.session.get(Order, kept.id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.get(Variant, m["carrots"].id).stock == 49
    again = runner.invoke(args=["orders", "expire-unpaid"])
    assert "0 unpaid order(s) expired." in again.output
    # The other hold ends a minute later: the next run expires that order too.
    clock.move_to(clock.start + timedelta(minutes=1))
    assert "1 unpaid order(s) expired." in runner.invoke(args=["orders", "expire-unpaid"]).output


def test_every_move_of_an_order_sends_its_email_once(app, db, market, mailbox):
    """Moved A→B, B→A, then A→B again: three moves, three e-mails (the third is not
    taken for the first). One move applied once still sends exactly one."""
    from marketplace.notifications import orders as notify
    from marketplace.notifications.models import OutboxMessage

    m = market
    order = factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 1})
    mailbox.wait_for(1)  # the confirmation
    mailbox.clear()
    a, b = m["slot"], m["later"]
    for number, (from_slot, to_slot) in enumerate(((a, b), (b, a), (a, b)), start=1):
        assert fulfilment.move_orders(db.session, from_slot, to_slot, now=now(),
            tz="Europe/Paris") == 1
        db.session.refresh(order)
        assert order.pickup_slot_id == to_slot.id
        # The same move told again (a retry): nothing more is queued.
        assert notify.slot_moved(db.session, order, from_slot, to_slot) is None
        db.session.commit()
        assert len(mailbox.wait_for(number)) == number
    keys = db.session.scalars(select(OutboxMessage.dedupe_key)
                              .where(OutboxMessage.dedupe_key.like("slot-moved:%"))).all()
    assert len(set(keys)) == 3
    assert all(mail["To"] == m["buyers"][0].email for mail in mailbox)
    assert len(mailbox) == 3


# The pick and packing lists on paper: what the print style sheet must keep doing ---------

VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                           "meta", "source", "track", "wbr"})


class _PageOutline(HTMLParser):
    """The page's style sheet links, in order, and each element with its ancestors'
    classes and tags (their names take part in `above`: "nav", ".d-print-none")."""

    def __init__(self):
        super().__init__()
        self.stylesheets: list[dict[str, str]] = []
        self.elements: list[tuple[str, frozenset[str], frozenset[str]]] = []
        self._open: list[tuple[str, frozenset[str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "link" and "stylesheet" in attrs.get("rel", "").split():
            self.stylesheets.append(attrs)
        classes = frozenset(attrs.get("class", "").split())
        above = frozenset(name for open_tag, open_classes in self._open
                          for name in (open_tag, *(f".{c}" for c in open_classes)))
        self.elements.append((tag, classes, above))
        if tag not in VOID_ELEMENTS:
            self._open.append((tag, classes))

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break

    def having(self, css_class: str, *, inside: str | None = None) -> list[str]:
        return [tag for tag, classes, above in self.elements
                if css_class in classes and (inside is None or f".{inside}" in above)]


def _css_rules(css: str, media: str = "") -> list[tuple[str, list[str], str, str]]:
    """(media query, selectors, property, value) of each declaration, in source order;
    @media blocks are opened, other blocks (@keyframes, @font-face) left out."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found, at = [], 0
    while (start := css.find("{", at)) >= 0:
        prelude = css[at:start].rsplit(";", 1)[-1].strip()  # after @charset "…";
        if prelude.startswith("@"):
            depth, end = 1, start + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(css[end], 0)
                end += 1
            if prelude.startswith("@media"):
                inner = prelude.removeprefix("@media").strip()
                found += _css_rules(css[start + 1:end - 1], f"{media} and {inner}" if media
                                    else inner)
            at = end
            continue
        end = css.index("}", start)
        selectors = [" ".join(s.split()) for s in prelude.split(",")]
        for declaration in css[start + 1:end].split(";"):
            name, colon, value = declaration.partition(":")
            if colon:
                found.append((media, selectors, name.strip().lower(), " ".join(value.split())))
        at = end + 1
    return found


def _applies(media: str, medium: str) -> bool:
    """Whether a media query (from a link's media attribute or an @media) can hold on
    `medium` ('print' or 'screen'); size conditions alone are taken as holding."""
    for query in (media or "all").lower().split(","):
        words = re.sub(r"\([^)]*\)", " ", query).split()
        kinds = [w for w in words if w not in ("and", "only", "not")]
        if "not" in words:
            continue
        if not kinds or "all" in kinds or medium in kinds:
            return True
    return False


def _styles_of(app, page: _PageOutline):
    """(link media, rule media, selectors, property, value) of every declaration of the
    page's own style sheets, read as text from the static folder, in cascade order."""
    static_url = app.static_url_path.rstrip("/") + "/"
    declarations = []
    for link in page.stylesheets:
        path = urlsplit(link["href"]).path
        assert path.startswith(static_url), link
        css = (Path(app.static_folder) / path.removeprefix(static_url)).read_text("utf-8")
        declarations += [(link.get("media", ""), *rule) for rule in _css_rules(css)]
    return declarations


def _computed(declarations, selector: str, prop: str, medium: str) -> str | None:
    """The value a rule naming `selector` by itself gives `prop` on `medium`, by the
    cascade (!important first, then the last one): enough for one-class selectors."""
    winner = None
    for link_media, rule_media, selectors, name, value in declarations:
        if (name == prop and selector in selectors and _applies(link_media, medium)
                and _applies(rule_media, medium)):
            if winner is None or "!important" in value or "!important" not in winner:
                winner = value
    return winner


def _print_only_selectors(declarations) -> set[str]:
    """Selectors of rules that apply on paper and not on screen."""
    return {s for link_media, rule_media, selectors, _name, _value in declarations
            for s in selectors
            if _applies(link_media, "print") and _applies(rule_media, "print")
            and not (_applies(link_media, "screen") and _applies(rule_media, "screen"))}


def test_pick_and_packing_lists_print_with_tick_boxes_and_no_navigation(app, client, db,
                                                                        login, market):
    m = market
    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["eggs"].id: 1})
    factories.order(m["buyers"][1], m["slot"], {m["carrots"].id: 1, m["leeks"].id: 3})
    login(m["farm"].user)
    response = client.get(f"/farm/orders/slots/{m['slot'].id}")
    assert response.status_code == 200
    page = _PageOutline()
    page.feed(response.get_data(as_text=True))

    # Rules for paper only, from a style sheet linked with media="print" (css/print.css
    # today) or under @media print: the key ones are among them.
    styles = _styles_of(app, page)
    on_paper = _print_only_selectors(styles)
    assert {"nav", "header", ".print-only"} <= on_paper, (page.stylesheets, on_paper)

    # The site's navigation, the forms and buttons are left off the paper...
    assert page.having("navbar")
    assert "header" in [tag for tag, _classes, _above in page.elements]
    for selector in ("header", "nav", "footer", "form", ".btn", ".d-print-none"):
        value = _computed(styles, selector, "display", "print") or ""
        assert value.startswith("none"), (selector, value)
    assert page.having("d-print-none")  # the back link, the CSV and Print buttons
    assert page.having("btn")
    hidden = {"header", "nav", "footer", "form", ".d-print-none"}
    unseen = {"btn", "visually-hidden", "visually-hidden-focusable"}  # the skip link
    printed = [(tag, sorted(classes)) for tag, classes, above in page.elements
               if tag in ("a", "button") and not unseen & classes and not hidden & above]
    assert printed == [], "links and buttons on paper"
    # ...and come back on screen.
    assert not (_computed(styles, "nav", "display", "screen") or "").startswith("none")

    # Tick boxes: a "Done" column on the pick list, one box per pick line and per packed
    # line, hidden on screen and shown on paper, with a border to tick.
    assert page.having("print-only", inside="pick-list").count("th") == 1
    boxes_in_pick_list = page.having("tick-box", inside="pick-list")
    boxes_in_packing = page.having("tick-box", inside="packing-order")
    assert len(boxes_in_pick_list) == len(page.having("pick-line")) == 2  # carrots, leeks
    assert len(boxes_in_packing) == 3  # Zoé's carrots; Ali's carrots and leeks
    assert len(page.having("tick-box")) == len(page.having("tick-box", inside="print-only"))
    assert (_computed(styles, ".print-only", "display", "screen") or "").startswith("none")
    shown = _computed(styles, ".print-only", "display", "print") or "none"
    assert not shown.startswith("none"), shown
    assert not (_computed(styles, ".tick-box", "display", "print") or "").startswith("none")
    assert "solid" in (_computed(styles, ".tick-box", "border", "print") or "")
    # The pick list ends its sheet of paper; the packing list starts on the next one.
    assert page.having("print-page") == ["section"]
    assert (_computed(styles, ".print-page", "break-after", "print") or "").startswith("page")
