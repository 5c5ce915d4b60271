"""A relay hands a neighbour's account over once they have an e-mail address: the
placeholder goes, a link to choose a password comes, the orders stay, and the relay
still sees them, marked as having their own account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.orders.models import Order
from tests import factories, pages
from tests.test_account_recovery import can_sign_in, set_new_password
from tests.test_relays import _order_for, logout, neighbour_named

ODETTE = "odette@example.org"


@pytest.fixture
def market(hosted_market, english):
    return hosted_market


def hand_over(form_post, point, neighbour, email, *, page=None):
    return form_post(f"/relay/points/{point.id}/neighbours/{neighbour.id}/hand-over",
                     {"email": email},
                     page=page or f"/relay/points/{point.id}/neighbours/{neighbour.id}")


def test_a_handed_over_neighbour_chooses_a_password_and_keeps_their_orders(
        client, db, login, form_post, mailbox, market):
    neighbour, url, form = _order_for(client, db, login, form_post, market)
    assert client.post(url, data=form).status_code == 303
    point = market["point"]
    response = hand_over(form_post, point, neighbour, " Odette@Example.org ")
    assert response.status_code == 303
    db.session.expire_all()
    neighbour = neighbour_named(db)
    assert neighbour.user.email == ODETTE
    assert neighbour.handed_over_at is not None
    [mail] = [m for m in mailbox.wait_for(1) if m["To"] == ODETTE]
    assert "Odette Le Goff" in mail.get_content()
    link = pages.link_in(mail, "/reset-password/")
    # The relay still sees them, marked.
    page = client.get(f"/relay/points/{point.id}").get_data(as_text=True)
    assert "Odette Le Goff" in page
    assert "has their own account" in page
    logout(client)
    assert set_new_password(form_post, link).status_code in (302, 303)
    db.session.expire_all()
    assert neighbour_named(db).user.email_confirmed_at is not None  # the link confirms it
    if client.get("/account").status_code == 200:  # signed in by the reset: sign out
        logout(client)
    assert can_sign_in(client, form_post, ODETTE, "un nouveau mot de passe")
    # The history is kept: the order placed for them is theirs.
    order = db.session.scalars(select(Order)).one()
    assert order.buyer_id == neighbour.user_id


def test_an_address_that_has_an_account_is_refused_with_a_message(client, db, login,
                                                                   form_post, mailbox, market):
    neighbour, _url, _form = _order_for(client, db, login, form_post, market)
    factories.user(email="taken@example.org", name="Someone")
    placeholder = neighbour.user.email
    response = hand_over(form_post, market["point"], neighbour, "Taken@example.org")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "An account has this e-mail address already" in page
    assert 'value="Taken@example.org"' in page  # the form keeps what was typed
    db.session.expire_all()
    neighbour = neighbour_named(db)
    assert neighbour.user.email == placeholder
    assert neighbour.handed_over_at is None
    # Nor an address that is not one.
    response = hand_over(form_post, market["point"], neighbour, "odette at home")
    assert response.status_code == 400
    assert "This is not a valid e-mail address." in response.get_data(as_text=True)


def test_a_relay_of_another_point_cannot_hand_the_account_over(client, db, login, form_post,
                                                               market):
    neighbour, _url, _form = _order_for(client, db, login, form_post, market)
    other_host = factories.user(Role.HOST, name="Autre hôte")
    other_point = factories.pickup_point("Mairie", host=other_host)
    logout(client)
    login(other_host)
    for point in (market["point"], other_point):
        response = hand_over(form_post, point, neighbour, ODETTE,
                             page=f"/relay/points/{other_point.id}")
        assert response.status_code == 404
    db.session.expire_all()
    assert neighbour_named(db).handed_over_at is None
