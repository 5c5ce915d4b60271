"""The account page: name and language, e-mail (confirmed by a link to the new
address), password, data export, deletion; through the real forms and e-mails."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.accounts.services import DELETED_NAME
from marketplace.notifications.models import MarketDaySubscription
from marketplace.orders.models import Order, OrderStatus
from marketplace.pickup.models import PickupPoint
from marketplace.wholesale.models import RestaurantProfile
from tests import factories
from tests.pages import link_in


@pytest.fixture
def alice(db, login, english):
    user = factories.user(email="alice@example.org", name="Alice")
    user.locale = "en"
    db.session.commit()
    return login(user)


def test_every_signed_in_person_reaches_the_account_page_from_the_menu(client, alice):
    assert 'href="/account"' in client.get("/").get_data(as_text=True)
    page = client.get("/account").get_data(as_text=True)
    for section in ("Name and language", "E-mail address", "Password", "Your data",
                    "Delete your account", "L123-22"):
        assert section in page
    assert 'href="/account/notices"' in page  # the notice choices, one click away


def test_the_account_page_needs_a_sign_in(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_name_and_language_are_changed(client, db, form_post, alice):
    response = form_post("/account/profile", {"profile-display_name": "Alice Martin",
                                               "profile-locale": "fr"}, page="/account")
    assert response.status_code == 303
    db.session.refresh(alice)
    assert (alice.display_name, alice.locale) == ("Alice Martin", "fr")
    assert "Votre compte" in client.get("/account").get_data(as_text=True)


def test_an_empty_name_is_refused_next_to_the_field(client, db, form_post, alice):
    response = form_post("/account/profile", {"profile-display_name": " ",
                                               "profile-locale": ""}, page="/account")
    assert response.status_code == 400
    assert 'id="profile-display_name-error"' in response.get_data(as_text=True)
    db.session.refresh(alice)
    assert alice.display_name == "Alice"


def test_a_new_e_mail_is_used_once_the_link_sent_there_is_opened(client, db, form_post,
                                                                 mailbox, alice):
    response = form_post("/account/email", {"email-new_email": "Alice@New.example ",
                                             "email-password": factories.PASSWORD},
                         page="/account")
    assert response.status_code == 303
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "alice@new.example"
    assert mail["Subject"] == "Confirm your new e-mail address"
    db.session.refresh(alice)
    assert alice.email == "alice@example.org"  # not before the link is opened

    link = link_in(mail, "/account/email/")
    assert client.get(link).status_code == 302
    db.session.refresh(alice)
    assert alice.email == "alice@new.example"
    assert alice.email_confirmed_at is not None
    notice = [m for m in mailbox.wait_for(2) if m["To"] == "alice@example.org"]
    assert [m["Subject"] for m in notice] == ["Your e-mail address was changed"]
    assert "alice@new.example" in notice[0].get_content()
    # The link works once.
    again = client.get(link)
    assert again.status_code == 410
    assert 'data-reason="used"' in again.get_data(as_text=True)


def test_a_wrong_current_password_is_refused_keeping_what_was_typed(client, db, form_post,
                                                                    mailbox, alice):
    response = form_post("/account/email", {"email-new_email": "elsewhere@example.org",
                                             "email-password": "not my password"},
                         page="/account")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This is not your current password." in page
    assert 'value="elsewhere@example.org"' in page
    refused = form_post("/account/password", {"password-current": "not my password",
                                               "password-password": "nouveau secret",
                                               "password-confirm": "nouveau secret"},
                        page="/account")
    assert refused.status_code == 400
    assert "This is not your current password." in refused.get_data(as_text=True)
    db.session.refresh(alice)
    assert alice.email == "alice@example.org"
    assert len(mailbox) == 0


def test_the_password_is_changed_with_the_current_one(client, db, form_post, login, alice):
    response = form_post("/account/password", {"password-current": factories.PASSWORD,
                                                "password-password": "nouveau secret",
                                                "password-confirm": "nouveau secret"},
                         page="/account")
    assert response.status_code == 303
    form_post("/logout", {}, page="/")
    login(alice, "nouveau secret")


def test_an_address_that_has_an_account_gets_no_link_and_the_same_answer(
        client, db, form_post, mailbox, alice):
    factories.user(email="bob@example.org")
    response = form_post("/account/email", {"email-new_email": "bob@example.org",
                                             "email-password": factories.PASSWORD},
                         page="/account")
    assert response.status_code == 303
    db.session.commit()
    assert len(mailbox) == 0


@pytest.fixture
def collected_order(db, alice):
    point = factories.pickup_point(name="Café de la gare")
    slot = factories.slot(point)
    farm = factories.producer(name="Ferme A")
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 10),))
    factories.delivery_round(farm, slot)
    order = factories.order(alice, slot, {carrots.variants[0].id: 2})
    order.status = OrderStatus.COLLECTED
    for sub in order.sub_orders:
        sub.status = OrderStatus.COLLECTED
    alice.location_label = "Vannes"
    alice.latitude, alice.longitude = factories.VANNES
    db.session.add(MarketDaySubscription(user_id=alice.id, pickup_point_id=point.id,
                                         opening=True))
    db.session.commit()
    return order


def test_the_export_holds_the_person_s_orders(client, collected_order, alice):
    response = client.get("/account/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "alice@example.org"
    assert data["location"]["label"] == "Vannes"
    [order] = data["orders"]
    assert order["number"] == collected_order.id
    assert order["lines"][0]["product"] == "Carottes"
    assert order["lines"][0]["quantity"] == 2
    assert data["market_day_emails"][0]["pickup_point"] == "Café de la gare"

    sheet = client.get("/account/export.csv")
    assert sheet.status_code == 200
    rows = list(csv.reader(io.StringIO(sheet.get_data(as_text=True).lstrip("\ufeff"))))
    assert ["E-mail", "alice@example.org"] in rows
    line = next(row for row in rows if row and row[0] == str(collected_order.id))
    assert "Carottes" in line
    assert "7.00" in line


def test_deleting_the_account_anonymises_it_and_keeps_its_orders(client, db, form_post,
                                                                  collected_order, alice):
    refused = form_post("/account/delete", {"delete-password": factories.PASSWORD},
                        page="/account")
    assert refused.status_code == 400  # the box was not ticked
    response = form_post("/account/delete", {"delete-password": factories.PASSWORD,
                                              "delete-understood": "y"}, page="/account")
    assert response.status_code == 303
    db.session.expire_all()
    gone = db.session.get(User, alice.id)
    assert gone.display_name == DELETED_NAME
    assert gone.email.endswith("@deleted.invalid")
    assert "alice" not in gone.email
    assert gone.location_label is None
    assert gone.latitude is None
    assert gone.deleted_at is not None
    order = db.session.get(Order, collected_order.id)
    assert order.buyer_id == alice.id
    assert order.total_cents == 700
    assert db.session.scalars(select(MarketDaySubscription)).all() == []
    # Signed out, and no password opens it again.
    assert client.get("/account").status_code == 302
    bad = form_post("/login", {"email": "alice@example.org", "password": factories.PASSWORD})
    assert bad.status_code == 400


def test_deletion_waits_for_orders_still_to_collect(client, db, form_post, collected_order,
                                                    alice):
    collected_order.status = OrderStatus.CONFIRMED
    db.session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert "You have orders still to collect" in page
    response = form_post("/account/delete", {"delete-password": factories.PASSWORD,
                                              "delete-understood": "y"}, page="/account")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, alice.id).deleted_at is None


@pytest.mark.parametrize(("role", "reason"), [
    (Role.PRODUCER, "still has products on sale"),
    (Role.HOST, "pickup points that are still open"),
    (Role.ADMIN, "administrator account"),
])
def test_deletion_is_refused_with_a_reason(client, db, login, english, role, reason):
    if role == Role.PRODUCER:
        farm = factories.producer()
        factories.product(farm)
        user = farm.user
    else:
        user = factories.user(role)
        if role == Role.HOST:
            point = factories.pickup_point()
            point.host_id = user.id
            db.session.commit()
    login(user)
    page = client.get("/account").get_data(as_text=True)
    assert reason in page
    assert 'action="/account/delete"' not in page


def test_a_restaurant_with_invoices_to_pay_keeps_its_account(client, db, login, english,
                                                              invoice_market):
    m = invoice_market
    invoice = factories.invoice(m["bistrot"], m["slot"], {m["carrots"].id: 10})
    order = db.session.get(Order, invoice.order_id)
    order.status = OrderStatus.COLLECTED  # nothing left to collect: only the invoice
    for sub in order.sub_orders:
        sub.status = OrderStatus.COLLECTED
    db.session.commit()
    login(m["bistrot"])
    page = client.get("/account").get_data(as_text=True)
    assert "invoices still to pay" in page
    invoice.paid_at = invoice.issued_at
    db.session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert "invoices still to pay" not in page
    assert 'action="/account/delete"' in page


def test_a_deleted_account_is_signed_out_on_its_other_browsers(app, client, db, form_post,
                                                               alice):
    other = app.test_client()
    with client.session_transaction() as signed_in, other.session_transaction() as copy:
        copy.update(signed_in)
    assert other.get("/account").status_code == 200
    response = form_post("/account/delete", {"delete-password": factories.PASSWORD,
                                              "delete-understood": "y"}, page="/account")
    assert response.status_code == 303
    assert other.get("/account").status_code == 302


def test_the_market_day_e_mails_asked_for_are_changed_from_the_account_page(
        client, db, form_post, collected_order, alice):
    page = client.get("/account").get_data(as_text=True)
    assert "Market day e-mails from Café de la gare" in page
    point_id = db.session.scalars(select(MarketDaySubscription)).one().pickup_point_id
    response = form_post(f"/market-day-mails/points/{point_id}",
                         {"next": "/account"}, page="/account")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert db.session.scalars(select(MarketDaySubscription)).all() == []


def test_a_restaurant_s_export_holds_its_business_details(client, login, english):
    login(factories.restaurant(name="Le Bistrot"))
    data = json.loads(client.get("/account/export.json").get_data(as_text=True))
    assert data["restaurant"]["business_name"] == "Le Bistrot"
    assert data["orders"] == []


def test_a_deleted_restaurant_s_details_go_and_its_door_closes(client, db, form_post, login,
                                                               english):
    restaurant = factories.door_restaurant()
    door = factories.restaurant_door(restaurant)
    login(restaurant)
    response = form_post("/account/delete", {"delete-password": factories.PASSWORD,
                                              "delete-understood": "y"}, page="/account")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(RestaurantProfile)) is None
    assert not db.session.get(PickupPoint, door.id).is_active
