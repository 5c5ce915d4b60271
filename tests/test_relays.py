"""Relays: a point's host, or a volunteer named relay, registers neighbours without
e-mail and orders for them, paid at pickup; the order says who placed it for whom."""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import Role, User
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.relays import services
from marketplace.relays.models import Neighbour, RelayAssignment
from tests import factories
from tests.clock import now
from tests.conftest import CSRF_RE
from tests.pages import TOKEN_RE


@pytest.fixture
def market(hosted_market, english):
    return hosted_market


def _neighbour_form(**over):
    data = {"display_name": "Odette Le Goff", "phone": "06 12 34 56 78",
            "postal_address": "3 rue des Lilas, Elven", "purpose": "Orders by phone",
            "consent": "y"}
    data.update(over)
    return data


def register(form_post, point, **over):
    return form_post(f"/relay/points/{point.id}/neighbours/new", _neighbour_form(**over))


def neighbour_named(db, name="Odette Le Goff") -> Neighbour:
    return db.session.scalars(select(Neighbour).join(Neighbour.user)
                              .where(User.display_name == name)).one()


def logout(client):
    client.post("/logout", data={"csrf_token": CSRF_RE.search(
        client.get("/relay").get_data(as_text=True)).group(1)})


def name_relay(form_post, point, email):
    return form_post(f"/relay/points/{point.id}/relays", {"email": email},
                     page=f"/relay/points/{point.id}")


def order_form(client, url) -> dict:
    page = client.get(url).get_data(as_text=True)
    return {"csrf_token": CSRF_RE.search(page).group(1),
            "checkout_token": TOKEN_RE.search(page).group(1)}


def test_the_host_is_relay_of_its_point_and_registers_a_neighbour(client, db, login, form_post,
                                                                   market):
    point = market["point"]
    login(market["host"])
    desk = client.get("/relay").get_data(as_text=True)
    assert f"/relay/points/{point.id}" in desk
    response = register(form_post, point)
    assert response.status_code == 303
    neighbour = neighbour_named(db)
    assert neighbour.pickup_point_id == point.id
    assert neighbour.phone_e164 == "+33612345678"
    assert neighbour.phone_display == "06 12 34 56 78"
    assert neighbour.consent_by_id == market["host"].id
    assert neighbour.consent_purpose == "Orders by phone"
    assert neighbour.user.email.endswith(".invalid")
    assert neighbour.user.role == Role.HOUSEHOLD
    page = client.get(f"/relay/points/{point.id}").get_data(as_text=True)
    assert "Odette Le Goff" in page
    assert "06 12 34 56 78" in page


def test_a_phone_number_that_is_not_one_is_refused_and_the_form_kept(client, db, login,
                                                                     form_post, market):
    login(market["host"])
    response = register(form_post, market["point"], phone="12 34")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This is not a valid phone number" in page
    assert 'value="12 34"' in page
    assert 'value="Odette Le Goff"' in page
    assert "3 rue des Lilas" in page
    assert db.session.scalar(select(func.count()).select_from(Neighbour)) == 0
    # Without consent, nothing either.
    response = register(form_post, market["point"], consent="")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Neighbour)) == 0


def test_an_admin_names_a_volunteer_relay_and_ends_it(client, db, login, form_post, market):
    point = market["point"]
    volunteer = factories.user(name="Bénévole")
    admin = factories.user(Role.ADMIN)
    login(volunteer)
    assert client.get(f"/relay/points/{point.id}").status_code == 404
    assert f"/relay/points/{point.id}" not in client.get("/relay").get_data(as_text=True)
    logout(client)
    login(admin)
    refused = name_relay(form_post, point, "nobody@example.org")
    assert refused.status_code == 400
    assert "No account has this e-mail address" in refused.get_data(as_text=True)
    named = name_relay(form_post, point, volunteer.email.upper())
    assert named.status_code == 303
    assignment = db.session.scalars(select(RelayAssignment)).one()
    assert (assignment.user_id, assignment.named_by_id, assignment.until) == (
        volunteer.id, admin.id, None)
    told = db.session.scalars(select(OutboxMessage)
                              .where(OutboxMessage.to_address == volunteer.email)).one()
    assert f"/relay/points/{point.id}" in told.body_text
    again = name_relay(form_post, point, volunteer.email)
    assert again.status_code == 400
    logout(client)
    login(volunteer)
    assert f"/relay/points/{point.id}" in client.get("/relay").get_data(as_text=True)
    assert register(form_post, point).status_code == 303
    # A volunteer relay does not name others.
    assert name_relay(form_post, point, market["buyers"][0].email).status_code == 404
    logout(client)
    login(market["host"])
    ended = form_post(f"/relay/points/{point.id}/relays/{assignment.id}/end", {},
                      page=f"/relay/points/{point.id}")
    assert ended.status_code == 303
    db.session.expire_all()
    assert db.session.get(RelayAssignment, assignment.id).until is not None
    logout(client)
    login(volunteer)
    assert client.get(f"/relay/points/{point.id}").status_code == 404


def _order_for(client, db, login, form_post, market):
    point, slot = market["point"], market["slot"]
    login(market["host"])
    register(form_post, point)
    neighbour = neighbour_named(db)
    url = f"/relay/points/{point.id}/neighbours/{neighbour.id}/order?slot_id={slot.id}"
    form = order_form(client, url)
    form.update({"slot_id": str(slot.id), f"q-{market['carrots'].id}": "2",
                 f"q-{market['eggs'].id}": "1", "action": "place"})
    return neighbour, url, form


def test_a_relay_orders_for_a_neighbour_paid_at_pickup(client, db, login, form_post, market):
    neighbour, url, form = _order_for(client, db, login, form_post, market)
    # "Show the total" places nothing.
    shown = client.post(url, data=dict(form, action="recalculate"))
    assert shown.status_code == 200
    assert "12.97" in shown.get_data(as_text=True)  # 2 x 3.50 + 5.97, in English
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    response = client.post(url, data=form)
    assert response.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert order.buyer_id == neighbour.user_id
    assert order.placed_by_id == market["host"].id
    assert order.payment_method == PaymentMethod.AT_PICKUP
    assert order.status == OrderStatus.CONFIRMED
    assert order.total_cents == 1297
    assert response.location.endswith(
        f"/relay/points/{market['point'].id}/neighbours/{neighbour.id}/orders/{order.id}")
    receipt = client.get(response.location).get_data(as_text=True)
    assert "Ordered by Hôte for Odette Le Goff" in receipt
    assert "Carottes" in receipt
    assert "12.97" in receipt
    assert "Where and when to collect" in receipt
    assert "Café de la gare" in receipt
    orders_list = client.get(
        f"/relay/points/{market['point'].id}/neighbours/{neighbour.id}").get_data(as_text=True)
    assert f"/orders/{order.id}" in orders_list
    # The host's distribution sheet says who ordered for whom.
    sheet = client.get(f"/pickup/slots/{market['slot'].id}/sheet").get_data(as_text=True)
    assert "Ordered by Hôte for Odette Le Goff" in sheet
    # No e-mail goes to the neighbour's placeholder address.
    to = db.session.scalars(select(OutboxMessage.to_address)).all()
    assert not [address for address in to if address.endswith(".invalid")]
    # The farm's packing list too.
    logout(client)
    login(db.session.get(User, market["farm"].user_id))
    packing = client.get(f"/farm/orders/slots/{market['slot'].id}").get_data(as_text=True)
    assert "Ordered by Hôte for Odette Le Goff" in packing
    # An admin sees every point's neighbours and who ordered in their name.
    logout(client)
    login(factories.user(Role.ADMIN))
    assert f"/relay/points/{market['point'].id}" in client.get("/relay").get_data(as_text=True)
    admin_view = client.get(
        f"/relay/points/{market['point'].id}/neighbours/{neighbour.id}").get_data(as_text=True)
    assert f"Order {order.id}" in admin_view
    assert "Hôte" in admin_view


def test_the_order_form_sent_twice_places_one_order(client, db, login, form_post, market):
    neighbour, url, form = _order_for(client, db, login, form_post, market)
    first = client.post(url, data=form)
    again = client.post(url, data=form)
    assert first.status_code == again.status_code == 303
    assert first.location == again.location
    assert "already placed" in client.get(again.location).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_bad_quantity_is_refused_and_kept(client, db, login, form_post, market):
    neighbour, url, form = _order_for(client, db, login, form_post, market)
    response = client.post(url, data=dict(form, **{f"q-{market['carrots'].id}": "deux"}))
    assert response.status_code == 400
    assert 'value="deux"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_relay_of_another_point_cannot_see_or_order_for_the_neighbour(client, db, login,
                                                                        form_post, market):
    neighbour, url, form = _order_for(client, db, login, form_post, market)
    client.post(url, data=form)
    order = db.session.scalars(select(Order)).one()
    other_host = factories.user(Role.HOST, name="Autre hôte")
    other_point = factories.pickup_point("Mairie", host=other_host)
    logout(client)
    login(other_host)
    point_id = market["point"].id
    for path in (f"/relay/points/{point_id}",
                 f"/relay/points/{point_id}/neighbours/{neighbour.id}",
                 f"/relay/points/{point_id}/neighbours/{neighbour.id}/order",
                 f"/relay/points/{point_id}/neighbours/{neighbour.id}/orders/{order.id}",
                 # Its own point, naming the other point's neighbour.
                 f"/relay/points/{other_point.id}/neighbours/{neighbour.id}",
                 f"/relay/points/{other_point.id}/neighbours/{neighbour.id}/order",
                 f"/relay/points/{other_point.id}/neighbours/{neighbour.id}/orders/{order.id}"):
        assert client.get(path).status_code == 404, path
    csrf = CSRF_RE.search(client.get(f"/relay/points/{other_point.id}").get_data(as_text=True))
    response = client.post(f"/relay/points/{other_point.id}/neighbours/{neighbour.id}/order",
                           data=dict(form, csrf_token=csrf.group(1), checkout_token="x" * 20))
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_neighbour_account_cannot_sign_in(client, db, login, form_post, market):
    login(market["host"])
    register(form_post, market["point"])
    user = neighbour_named(db).user
    # Even were its random password known: give it one to be sure the check is the domain.
    user.password_hash = db.session.get(User, market["host"].id).password_hash
    db.session.commit()
    logout(client)
    response = form_post("/login", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "Wrong e-mail or password" in response.get_data(as_text=True)


def test_a_buyer_sees_on_its_order_page_who_ordered_in_its_name(client, db, login, market):
    """An account later handed over to its person (or any buyer a relay ordered for)
    reads on its order page who placed the order."""
    buyer, relay = market["buyers"][0], market["host"]
    order = orders.checkout(db.session, buyer=buyer, cart={str(market["carrots"].id): 1},
                            slot_id=market["slot"].id, now=now(), tz=factories.TZ,
                            payment_method=PaymentMethod.AT_PICKUP, placed_by_id=relay.id,
                            config=current_app.config)
    db.session.commit()
    login(buyer)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Ordered by Hôte for Zoé" in page
    plain = factories.order(buyer, market["slot"], {market["carrots"].id: 1})
    assert "Ordered by" not in client.get(f"/orders/{plain.id}").get_data(as_text=True)


def test_one_active_assignment_per_point_and_person_even_at_once(db, market):
    """The database holds one active assignment per point and person (two admins
    naming the same volunteer at once); an ended one does not count."""
    point, volunteer = market["point"], factories.user(name="Bénévole")
    first = RelayAssignment(pickup_point_id=point.id, user_id=volunteer.id, since=now())
    db.session.add(first)
    db.session.commit()
    db.session.add(RelayAssignment(pickup_point_id=point.id, user_id=volunteer.id, since=now()))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    first.until = now()
    db.session.commit()
    again = services.name_relay(db.session, point, volunteer.email, by=market["host"], now=now())
    db.session.commit()
    assert again.active
    assert not db.session.get(RelayAssignment, first.id).active


@pytest.mark.parametrize(("typed", "e164", "shown"), [
    ("06 12 34 56 78", "+33612345678", "06 12 34 56 78"),
    ("+33 6 12 34 56 78", "+33612345678", "06 12 34 56 78"),
    ("02.97.12.34.56", "+33297123456", "02 97 12 34 56"),
    ("+32 470 12 34 56", "+32470123456", "+32 470 12 34 56"),  # abroad: international
])
def test_phone_numbers_are_kept_in_e164_and_shown_as_dialled(typed, e164, shown):
    assert services.parse_phone(typed) == (e164, shown)


@pytest.mark.parametrize("typed", ["12 34", "06 12 34", "téléphone", "+33 1", "0" * 40])
def test_what_is_not_a_phone_number_is_refused(typed):
    with pytest.raises(services.RelayError):
        services.parse_phone(typed)
