"""Market day e-mails: opting in and out on the pages, the scheduled job queues each
e-mail once and only when due, the List-Unsubscribe headers that reach the SMTP
server, one-click unsubscribing without a session, altered links."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.jobs import run_once
from marketplace.notifications import market_days, services
from marketplace.notifications.models import MarketDaySubscription, OutboxMessage
from marketplace.orders.models import OrderStatus
from marketplace.pickup.models import PickupSlot
from tests import factories
from tests.clock import now

CHECKED = re.compile(r'<input checked[^>]*name="(opening|cutoff)"')
LINK = re.compile(r"https?://\S+/market-day-mails/unsubscribe/\S+")


@pytest.fixture
def point(db):
    return factories.pickup_point("Épicerie Le Relais")


def subscribe(db, user, point, *kinds):
    subscription = market_days.set_kinds(db.session, user, point, set(kinds), now=now())
    db.session.commit()
    return subscription


def subscriptions(db) -> list[tuple[int, int, bool, bool]]:
    db.session.commit()
    return [(s.user_id, s.pickup_point_id, s.opening, s.cutoff) for s in db.session.scalars(
        select(MarketDaySubscription).order_by(MarketDaySubscription.id))]


def market_mails(db, kind: str | None = None) -> list[OutboxMessage]:
    db.session.commit()
    prefix = f"market-day-{kind}:" if kind else "market-day-"
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith(prefix)).order_by(OutboxMessage.id)))


def queue_due(app, db) -> int:
    queued = market_days.queue_due(db.session, app.config, now=now())
    db.session.commit()
    return queued


# Opting in and out on the pages --------------------------------------------------------------

def test_a_buyer_opts_in_and_out_from_the_order_page(db, client, login, form_post, point):
    farm = factories.producer()
    carrots = factories.product(farm).variants[0]
    slot = factories.slot(point)
    factories.delivery_round(farm, slot)
    buyer = factories.user(name="Claire")
    order = factories.order(buyer, slot, {carrots.id: 1})
    login(buyer)
    page = f"/orders/{order.id}"
    html = client.get(page).get_data(as_text=True)
    assert f'action="/market-day-mails/points/{point.id}"' in html
    assert 'name="opening"' in html
    assert not CHECKED.findall(html)

    response = form_post(f"/market-day-mails/points/{point.id}",
                         {"opening": "y", "cutoff": "y", "next": page}, page=page)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(page)
    assert subscriptions(db) == [(buyer.id, point.id, True, True)]
    html = client.get(page).get_data(as_text=True)
    assert sorted(CHECKED.findall(html)) == ["cutoff", "opening"]

    # The orders list carries the same form; nothing ticked: no more e-mails.
    assert 'name="cutoff"' in client.get("/orders").get_data(as_text=True)
    response = form_post(f"/market-day-mails/points/{point.id}", {"next": "/orders"},
                         page="/orders")
    assert response.status_code == 303
    assert subscriptions(db) == []


def test_a_host_sees_the_form_on_the_point_page(db, client, login):
    host = factories.user(Role.HOST)
    point = factories.pickup_point("Mairie de Theix", host=host)
    login(host)
    html = client.get(f"/pickup/points/{point.id}").get_data(as_text=True)
    assert f'action="/market-day-mails/points/{point.id}"' in html


def test_choosing_refuses_a_door_an_unknown_point_and_a_missing_token(app, db, client, login,
                                                                      form_post, point):
    login(factories.user())
    door = factories.pickup_point("Le Bistrot", private_buyer_id=factories.user().id)
    assert form_post(f"/market-day-mails/points/{door.id}", {"opening": "y"},
                     page="/orders").status_code == 404
    assert form_post("/market-day-mails/points/999999", {"opening": "y"},
                     page="/orders").status_code == 404
    response = client.post(f"/market-day-mails/points/{point.id}", data={"opening": "y"})
    assert response.status_code == 400
    assert subscriptions(db) == []
    # Signed out: to the sign-in page.
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        response = app.test_client().post(f"/market-day-mails/points/{point.id}",
                                          data={"opening": "y"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert subscriptions(db) == []


# The scheduled job ---------------------------------------------------------------------------

def test_the_job_announces_the_next_market_day_once_to_those_subscribed_before(app, db,
                                                                              mailbox, point):
    early, both, late, reminders_only = (factories.user() for _ in range(4))
    subscribe(db, early, point, "opening")
    subscribe(db, both, point, "opening", "cutoff")
    subscribe(db, reminders_only, point, "cutoff")
    # Last week's market day, its cut-off past: the next one opened then.
    factories.slot(point, starts_in=timedelta(hours=-30), cutoff_in=timedelta(hours=-40))
    next_day = factories.slot(point, starts_in=timedelta(days=6), cutoff_in=timedelta(days=5))
    factories.slot(point, starts_in=timedelta(days=13), cutoff_in=timedelta(days=12))
    subscribe(db, late, point, "opening")  # saw it open: no e-mail for this one

    assert run_once(generate_slots=False)["market_day_mails"] == 2
    assert run_once(generate_slots=False)["market_day_mails"] == 0
    mails = market_mails(db)
    assert [(m.to_address, m.dedupe_key) for m in mails] == [
        (early.email, f"market-day-opening:{early.id}:{next_day.id}"),
        (both.email, f"market-day-opening:{both.id}:{next_day.id}"),
    ]
    assert len(mailbox.wait_for(2)) == 2


def test_the_cutoff_reminder_goes_to_those_without_an_order_and_stops_at_the_cutoff(
        app, db, clock, point):
    farm = factories.producer()
    carrots = factories.product(farm).variants[0]
    forgetful, ordered, cancelled, far = (factories.user() for _ in range(4))
    for user in (forgetful, ordered, cancelled):
        subscribe(db, user, point, "cutoff")
    slot = factories.slot(point, starts_in=timedelta(days=2), cutoff_in=timedelta(hours=10))
    factories.delivery_round(farm, slot)
    factories.order(ordered, slot, {carrots.id: 1})
    gone = factories.order(cancelled, slot, {carrots.id: 1})
    gone.status = OrderStatus.CANCELLED  # a cancelled order does not count as ordering
    db.session.commit()
    # This point's next market day, far from its cut-off, and a subscriber of another
    # point: no reminder.
    factories.slot(point, starts_in=timedelta(days=9), cutoff_in=timedelta(days=7))
    subscribe(db, far, factories.pickup_point("Ailleurs"), "cutoff")

    assert queue_due(app, db) == 2
    assert queue_due(app, db) == 0
    assert sorted(m.dedupe_key for m in market_mails(db, "cutoff")) == sorted(
        f"market-day-cutoff:{user.id}:{slot.id}" for user in (forgetful, cancelled))

    late = factories.user()
    subscribe(db, late, point, "cutoff")
    clock.move_to(slot.cutoff_at + timedelta(minutes=1))
    assert queue_due(app, db) == 0  # after the cut-off: too late to remind


def test_no_opening_mail_to_a_buyer_who_already_ordered(app, db, point):
    farm = factories.producer()
    carrots = factories.product(farm).variants[0]
    ordered, waiting = factories.user(), factories.user()
    subscribe(db, ordered, point, "opening")
    subscribe(db, waiting, point, "opening")
    slot = factories.slot(point, starts_in=timedelta(days=4), cutoff_in=timedelta(days=3))
    factories.delivery_round(farm, slot)
    factories.order(ordered, slot, {carrots.id: 1})  # a standing order, say
    assert queue_due(app, db) == 1
    assert [m.to_address for m in market_mails(db, "opening")] == [waiting.email]


def test_a_full_or_closed_market_day_is_not_announced(app, db, point):
    subscribe(db, factories.user(), point, "opening", "cutoff")
    factories.slot(point, cutoff_in=timedelta(hours=5), capacity=3, taken=3)
    factories.slot(point, starts_in=timedelta(days=4), cutoff_in=timedelta(hours=8),
                   status="closed")
    assert queue_due(app, db) == 0


def test_each_mail_is_in_the_buyers_language(app, db, point):
    english, french = factories.user(), factories.user()
    english.locale = "en"
    db.session.commit()
    for user in (english, french):
        subscribe(db, user, point, "opening", "cutoff")
    factories.slot(point, starts_in=timedelta(days=2), cutoff_in=timedelta(hours=10))
    assert queue_due(app, db) == 4
    subjects = {(m.to_address, m.dedupe_key.split(":")[0]): m.subject for m in market_mails(db)}
    assert subjects[english.email, "market-day-opening"].startswith(
        "Orders are open: Épicerie Le Relais, ")
    assert subjects[french.email, "market-day-opening"].startswith(
        "Les commandes sont ouvertes\u00a0: Épicerie Le Relais, ")
    assert subjects[english.email, "market-day-cutoff"].startswith("Last call: order before ")
    assert subjects[french.email, "market-day-cutoff"].startswith("Dernier appel")


# What arrives, and unsubscribing -------------------------------------------------------------

def _raw_header(mail, name: str) -> str:
    [value] = [value for key, value in mail.raw_items() if key.lower() == name.lower()]
    return value


@pytest.mark.parametrize("kind", ["opening", "cutoff"])
def test_the_mail_unsubscribes_in_one_click_without_a_session(app, db, mailbox, point, kind):
    buyer = factories.user()
    subscribe(db, buyer, point, "opening", "cutoff")
    factories.slot(point, starts_in=timedelta(days=2), cutoff_in=timedelta(hours=10))
    queue_due(app, db)
    [mail] = [m for m in mailbox.wait_for(2) if m["Subject"].startswith(
        "Les commandes" if kind == "opening" else "Dernier appel")]

    header = _raw_header(mail, "List-Unsubscribe")  # as sent: not folded nor encoded
    assert header.startswith("<http")
    assert header.endswith(">")
    assert "=?" not in header
    assert _raw_header(mail, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    [link] = LINK.findall(mail.get_content())
    assert link == url
    # Its "order" link offers the market day it announces.
    slot = db.session.scalars(select(PickupSlot).where(
        PickupSlot.pickup_point_id == point.id)).one()
    assert f"/market-day?slot={slot.id}" in mail.get_content()

    client = app.test_client()  # never signed in, no CSRF token
    page = client.get(url)
    assert page.status_code == 200
    assert "<form method=\"post\">" in page.get_data(as_text=True)
    assert subscriptions(db) == [(buyer.id, point.id, True, True)]  # a GET changes nothing
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "unsubscribed" in response.get_data(as_text=True)
    assert subscriptions(db) == [(buyer.id, point.id, kind == "cutoff", kind == "opening")]
    # Twice (the mail client retries): no error.
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_the_last_kind_unsubscribed_removes_the_subscription(app, db, point):
    buyer = factories.user()
    subscription = subscribe(db, buyer, point, "cutoff")
    token = market_days.unsubscribe_token(app.config, subscription, "cutoff")
    assert app.test_client().post(f"/market-day-mails/unsubscribe/{token}").status_code == 200
    assert subscriptions(db) == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_altered_link_is_refused_with_a_message(app, db, point, method):
    buyer = factories.user()
    subscription = subscribe(db, buyer, point, "opening")
    token = market_days.unsubscribe_token(app.config, subscription, "opening")
    other = market_days._serializer({"SECRET_KEY": "another"}).dumps(
        [buyer.id, point.id, subscription.id, "opening"])
    client = app.test_client()
    for bad in (token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), "abc", other,
                market_days._serializer(app.config).dumps({"u": buyer.id})):
        response = getattr(client, method)(f"/market-day-mails/unsubscribe/{bad}")
        assert response.status_code == 400
        assert "This unsubscribe link is not valid" in response.get_data(as_text=True) or \
            "Ce lien de désinscription n’est pas valable" in response.get_data(as_text=True)
    assert subscriptions(db) == [(buyer.id, point.id, True, False)]


def test_a_link_does_not_reach_another_users_subscription(app, db, point):
    """The token names the user and the point: a reused row id is not theirs."""
    buyer, other = factories.user(), factories.user()
    subscription = subscribe(db, buyer, point, "opening")
    token = market_days.unsubscribe_token(app.config, subscription, "opening")
    subscribe(db, buyer, point)  # unsubscribed from the page
    subscribe(db, other, point, "opening")  # may take the same id on SQLite
    response = app.test_client().post(f"/market-day-mails/unsubscribe/{token}")
    assert response.status_code == 200
    assert subscriptions(db) == [(other.id, point.id, True, False)]


# The outbox's extra headers ------------------------------------------------------------------

def test_extra_headers_are_stored_and_checked(db):
    message = services.queue(db.session, to="a@example.org", subject="s", body="b", key="h:1",
                             headers={"List-Id": "<market.example.org>"})
    assert json.loads(message.headers) == {"List-Id": "<market.example.org>"}
    for bad in ({"Bcc": "x@example.org"}, {"List-Id": "a\r\nBcc: x@example.org"},
                {"Bad Name": "x"}, {"List-Id": "é"}):
        with pytest.raises(ValueError, match="header"):
            services.queue(db.session, to="a@example.org", subject="s", body="b", headers=bad)
