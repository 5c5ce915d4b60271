"""A forgotten password, e-mail confirmation: through the real forms, with the links
read from the e-mails that arrived at the test SMTP server (tests/mailbox.py)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.notifications import services as outbox
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import services as orders
from marketplace.orders.models import Order
from tests import factories, pages
from tests.clock import now
from tests.conftest import csrf_token

NEW_PASSWORD = "un nouveau mot de passe"


@pytest.fixture
def person(db):
    user = factories.user(email="alice@example.org", name="Alice")
    user.locale = "en"
    db.session.commit()
    return user


def ask_reset(form_post, email: str):
    return form_post("/forgot-password", {"email": email})


def reset_link(form_post, mailbox, email: str) -> str:
    assert ask_reset(form_post, email).status_code == 200
    [mail] = [m for m in mailbox.wait_for(1) if m["To"] == email.strip().lower()]
    return pages.link_in(mail, "/reset-password/")


def set_new_password(form_post, link: str, password: str = NEW_PASSWORD):
    return form_post(link, {"password": password, "confirm": password})


def can_sign_in(client, form_post, email: str, password: str) -> bool:
    response = form_post("/login", {"email": email, "password": password})
    if response.status_code == 302:
        form_post("/logout", {}, page="/")
        return True
    return False


def test_login_page_offers_the_forgotten_password_form(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in page
    assert "Mot de passe oublié\u00a0?" in page


def test_a_forgotten_password_is_reset_by_the_link_e_mailed(client, db, form_post, mailbox,
                                                              english, person):
    link = reset_link(form_post, mailbox, "Alice@Example.org ")
    assert mailbox[0]["Subject"] == "Choose a new password"  # Alice reads English
    assert "The link works once, for 1 hour." in mailbox[0].get_content()
    assert client.get(link).status_code == 200
    response = set_new_password(form_post, link)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert can_sign_in(client, form_post, "alice@example.org", NEW_PASSWORD)
    assert not can_sign_in(client, form_post, "alice@example.org", factories.PASSWORD)

    # The link dies once used: its page says so and offers a new one.
    reposted = _post(client)(link, {"password": "encore autre", "confirm": "encore autre"})
    for again in (client.get(link), reposted):
        assert again.status_code == 410
        page = again.get_data(as_text=True)
        assert 'data-reason="used"' in page
        assert 'href="/forgot-password"' in page
    assert can_sign_in(client, form_post, "alice@example.org", NEW_PASSWORD)


def _post(client):
    """A POST with whatever CSRF token the client's session has (the link page of a
    used link has no form to take one from)."""
    def post(url, data):
        return client.post(url, data={**data, "csrf_token": csrf_token(client, "/login")})

    return post


def test_a_newer_reset_link_kills_none_but_a_used_one_kills_all(client, form_post, mailbox,
                                                                 english, person):
    first = reset_link(form_post, mailbox, "alice@example.org")
    mailbox.clear()
    second = reset_link(form_post, mailbox, "alice@example.org")
    assert set_new_password(form_post, second).status_code == 303
    # Both were bound to the old password.
    assert client.get(first).status_code == 410


def test_an_unknown_address_gets_the_same_answer_and_no_e_mail(client, db, form_post,
                                                                mailbox, english, person):
    known = ask_reset(form_post, "alice@example.org")
    mailbox.wait_for(1)
    unknown = ask_reset(form_post, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace("alice@example.org", "X") == \
        unknown.get_data(as_text=True).replace("nobody@example.org", "X")
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.to_address == "nobody@example.org")) == 0
    assert len(mailbox) == 1


@pytest.mark.parametrize("damage", [
    lambda token: token[:-3],
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: "x" + token,
])
def test_a_tampered_reset_link_is_refused(client, form_post, mailbox, english, person,
                                          damage):
    link = reset_link(form_post, mailbox, "alice@example.org")
    prefix, token = link.rsplit("/", 1)
    response = client.get(f"{prefix}/{damage(token)}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'data-reason="bad"' in page
    assert 'href="/forgot-password"' in page


def test_a_confirmation_link_is_no_reset_link(client, form_post, mailbox, english, db):
    form_post("/signup", {"display_name": "Bob", "email": "bob@example.org",
                          "password": "des-carottes-bio", "confirm": "des-carottes-bio",
                          "role": "household"})
    [mail] = mailbox.wait_for(1)
    token = pages.link_in(mail, "/confirm/").rsplit("/", 1)[1]
    assert client.get(f"/reset-password/{token}").status_code == 400


def test_an_expired_reset_link_is_refused(app, client, clock, form_post, mailbox, english,
                                          person):
    link = reset_link(form_post, mailbox, "alice@example.org")
    clock.move_to(now() + timedelta(seconds=app.config["PASSWORD_RESET_MAX_AGE"] + 60))
    response = client.get(link)
    assert response.status_code == 410
    assert 'data-reason="expired"' in response.get_data(as_text=True)
    assert can_sign_in(client, form_post, "alice@example.org", factories.PASSWORD)


def test_the_new_password_is_checked_and_typed_twice(client, form_post, mailbox, english,
                                                      person):
    link = reset_link(form_post, mailbox, "alice@example.org")
    short = set_new_password(form_post, link, "court")
    assert short.status_code == 400
    assert "Between 8 and 200" in short.get_data(as_text=True)
    differ = form_post(link, {"password": NEW_PASSWORD, "confirm": "autre chose"})
    assert differ.status_code == 400
    assert "passwords differ" in differ.get_data(as_text=True)
    # The link still works after a refused form.
    assert set_new_password(form_post, link).status_code == 303


def test_a_reset_by_link_confirms_the_address(client, db, form_post, mailbox, english):
    user = factories.user(email="late@example.org", confirmed=False)
    link = reset_link(form_post, mailbox, "late@example.org")
    assert set_new_password(form_post, link).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed_at is not None


# E-mail confirmation ----------------------------------------------------------------------

@pytest.fixture
def shop(db):
    point = factories.pickup_point()
    slot = factories.slot(point)
    farm = factories.producer(name="Ferme A")
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 10),))
    factories.delivery_round(farm, slot)
    return {"slot": slot, "carrots": carrots.variants[0]}


def test_an_unconfirmed_account_cannot_order_until_it_opens_the_link(
        client, db, form_post, login, mailbox, english, shop):
    buyer = login(factories.user(email="new@example.org", confirmed=False))
    page = client.get("/catalogue").get_data(as_text=True)
    assert "email-unconfirmed" in page
    assert "Send the link again" in page

    pages.set_cart(client, {shop["carrots"].id: 2})
    refused = form_post("/checkout", {"slot_id": str(shop["slot"].id)}, page="/checkout")
    assert refused.status_code == 403
    assert "Confirm your e-mail address before ordering" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Order.id))) == 0

    resent = form_post("/confirm?next=/checkout", {}, page="/checkout")
    assert resent.status_code == 303
    assert resent.headers["Location"] == "/checkout"
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "new@example.org"
    # In the reader's language: the site's, French, for an account that chose none.
    assert mail["Subject"] == "Confirmez votre adresse e-mail"
    assert client.get(pages.link_in(mail, "/confirm/")).status_code == 302
    # Opened again: nothing changes, no error.
    assert client.get(pages.link_in(mail, "/confirm/")).status_code == 302

    placed = form_post("/checkout", {"slot_id": str(shop["slot"].id)}, page="/checkout")
    assert placed.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert order.buyer_id == buyer.id
    # Welcomed once confirmed; now the order's e-mail goes out (and the farm's notice).
    mails = mailbox.wait_for(4)
    assert [m["Subject"] for m in mails if m["To"] == "new@example.org"][1] == \
        "Bienvenue sur Circuit Court"
    assert len([m for m in mails if m["To"] == "new@example.org"]) == 3


def test_orders_placed_by_any_form_refuse_an_unconfirmed_buyer(db, shop):
    buyer = factories.user(confirmed=False)
    with pytest.raises(orders.CheckoutError) as refused:
        factories.order(buyer, shop["slot"], {shop["carrots"].id: 1})
    assert refused.value.code == orders.EMAIL_UNCONFIRMED
    assert refused.value.status == 403


def test_no_e_mail_but_the_account_s_own_goes_to_an_unconfirmed_address(db, mailbox):
    factories.user(email="unsure@example.org", confirmed=False)
    assert outbox.queue(db.session, to="unsure@example.org", subject="News",
                        body="x") is None
    own = outbox.queue(db.session, to="unsure@example.org", subject="Confirm", body="y",
                       before_confirmation=True)
    assert own is not None
    db.session.commit()
    [mail] = mailbox.wait_for(1)
    assert mail["Subject"] == "Confirm"


def test_a_confirmation_link_for_an_address_the_account_left_is_refused(
        client, db, form_post, login, mailbox, english):
    user = login(factories.user(email="old@example.org", confirmed=False))
    form_post("/confirm", {}, page="/")
    [mail] = mailbox.wait_for(1)
    link = pages.link_in(mail, "/confirm/")
    user.email = "other@example.org"
    db.session.commit()
    response = client.get(link)
    assert response.status_code == 410
    # Signed in and unconfirmed: the page offers a new link.
    assert 'action="/confirm"' in response.get_data(as_text=True)
    prefix, token = link.rsplit("/", 1)
    assert client.get(f"{prefix}/{token[:-2]}").status_code == 400


def test_links_point_at_the_public_address(app, form_post, mailbox, person):
    link_text = None
    ask_reset(form_post, "alice@example.org")
    [mail] = mailbox.wait_for(1)
    for word in mail.get_content().split():
        if "/reset-password/" in word:
            link_text = word
    public = urlsplit(app.config["PUBLIC_URL"])
    assert urlsplit(link_text).netloc == public.netloc


def test_an_expired_confirmation_link_offers_a_new_one(app, client, clock, db, form_post,
                                                       login, mailbox, english):
    user = login(factories.user(email="slow@example.org", confirmed=False))
    form_post("/confirm", {}, page="/")
    [mail] = mailbox.wait_for(1)
    clock.move_to(now() + timedelta(seconds=app.config["EMAIL_CONFIRMATION_MAX_AGE"] + 60))
    response = client.get(pages.link_in(mail, "/confirm/"))
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert 'data-reason="expired"' in page
    assert 'action="/confirm"' in page
    db.session.refresh(user)
    assert user.email_confirmed_at is None
