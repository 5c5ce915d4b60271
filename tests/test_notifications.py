"""E-mail notifications: the outbox, delivery after commit through a real SMTP server
(tests/mailbox.py), retries when the server is down, the order e-mails, reminders."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency
from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.notifications import orders as notify
from marketplace.notifications import services
from marketplace.notifications.models import OutboxMessage
from marketplace.orders import services as order_services
from marketplace.orders.models import Actor, Order, OrderStatus
from marketplace.pickup.models import DeliveryRound, PickupKind, PickupPoint, PickupSlot
from marketplace.sqlite import write_intent
from tests import factories
from tests.clock import INSTANTS, now
from tests.mailbox import free_port

TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)
SLOT_FORMAT = "EEEE d MMMM, HH:mm"


def outbox(db) -> list[OutboxMessage]:
    db.session.commit()  # a fresh snapshot: delivery wrote through another connection
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def queue_one(db, key: str | None = "test:1", to: str = "claire@example.org"):
    return services.queue(db.session, to=to, subject="Votre commande n° 7 — prête",
                          body="Bonjour Claire,\n\nVos œufs sont prêts.\n", key=key)


# The outbox ---------------------------------------------------------------------------------

def test_queued_message_is_sent_right_after_commit(db, mailbox):
    message = queue_one(db)
    assert message.id is not None
    assert message.sent_at is None
    assert len(mailbox) == 0  # nothing leaves before the transaction commits
    db.session.commit()

    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "claire@example.org"
    assert mail["From"] == "Circuit Court <no-reply@circuit-court.localhost>"
    assert mail["Subject"] == "Votre commande n° 7 — prête"
    assert mail.get_content() == "Bonjour Claire,\n\nVos œufs sont prêts.\n"
    assert mail["Message-ID"].startswith(f"<outbox.{message.id}.")
    [row] = outbox(db)
    assert (row.sent_at is not None, row.attempts, row.last_error) == (True, 1, "")


def test_same_key_twice_queues_one_message(db, mailbox):
    assert queue_one(db, key="order-confirmed:1") is not None
    assert queue_one(db, key="order-confirmed:1") is None
    db.session.commit()
    # A later transaction (a webhook delivered twice) finds the key taken too.
    assert queue_one(db, key="order-confirmed:1") is None
    db.session.commit()
    assert len(mailbox.wait_for(1)) == 1
    assert len(outbox(db)) == 1


def test_concurrent_duplicate_only_rolls_back_its_savepoint(db, mailbox, monkeypatch):
    """The unique key is the last guard (two transactions checking at once): the
    refused insert must not undo the caller's other work."""
    queue_one(db, key="order-confirmed:2")
    db.session.commit()
    mailbox.wait_for(1)
    buyer = factories.user(commit=False)
    monkeypatch.setattr(services, "already_queued", lambda session, key: False)
    assert queue_one(db, key="order-confirmed:2") is None
    db.session.commit()
    assert db.session.get(User, buyer.id) is not None
    assert len(outbox(db)) == 1
    assert len(mailbox) == 1


def test_rolled_back_transaction_sends_nothing(db, mailbox):
    queue_one(db, key=None)
    db.session.rollback()
    factories.user()  # a later commit of the same session
    assert outbox(db) == []
    assert len(mailbox) == 0


def test_released_savepoint_does_not_send_before_the_commit(db, mailbox):
    queue_one(db)
    with db.session.begin_nested():
        factories.user(commit=False)
    assert len(mailbox) == 0
    db.session.commit()
    assert len(mailbox.wait_for(1)) == 1


def test_a_request_that_commits_sends_its_messages(app, db, mailbox):
    @app.post("/_test/queue")
    def queue_in_request():
        queue_one(db, key="request:1", to="web@example.org")
        db.session.commit()
        return "ok"

    app.config["WTF_CSRF_ENABLED"] = False
    assert app.test_client().post("/_test/queue").status_code == 200
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "web@example.org"


# SMTP down, retries -------------------------------------------------------------------------

def test_smtp_down_commits_anyway_and_deliver_retries(app, db, mailbox, caplog):
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    buyer = factories.user(commit=False)
    queue_one(db, key="order-confirmed:3", to=buyer.email)
    with caplog.at_level(logging.WARNING, logger="marketplace.notifications"):
        db.session.commit()  # does not raise
    assert "unreachable" in caplog.text
    assert db.session.get(User, buyer.id) is not None
    [row] = outbox(db)
    assert (row.sent_at, row.attempts) == (None, 1)
    assert "ConnectionRefusedError" in row.last_error
    assert len(mailbox) == 0

    app.config["MAIL_PORT"] = port
    result = app.test_cli_runner().invoke(args=["notifications", "deliver"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 sent, 0 failed, 0 still pending."
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == buyer.email
    [row] = outbox(db)
    assert (row.sent_at is not None, row.attempts, row.last_error) == (True, 2, "")
    result = app.test_cli_runner().invoke(args=["notifications", "deliver"])
    assert result.output.strip() == "0 sent, 0 failed, 0 still pending."
    assert len(mailbox) == 1


def test_without_mail_server_messages_stay_queued(app, db, mailbox, caplog):
    app.config["MAIL_SERVER"] = ""
    queue_one(db)
    with caplog.at_level(logging.INFO, logger="marketplace.notifications"):
        db.session.commit()
    assert "MAIL_SERVER is empty" in caplog.text
    [row] = outbox(db)
    assert (row.sent_at, row.attempts) == (None, 0)
    result = app.test_cli_runner().invoke(args=["notifications", "deliver"])
    assert result.output.strip() == "MAIL_SERVER is not set: 1 e-mail(s) stay in the outbox."
    assert len(mailbox) == 0


def test_deliver_gives_up_after_max_attempts_and_skips_claimed(app, db, mailbox):
    app.config["MAIL_SERVER"] = ""
    tired, claimed, stale = (queue_one(db, key=f"k:{n}") for n in range(3))
    tired.attempts = app.config["MAIL_MAX_ATTEMPTS"]
    claimed.claimed_at = now()  # another sender has it right now
    stale.claimed_at = now() - services.CLAIM_TIMEOUT - timedelta(seconds=1)  # it died
    db.session.commit()
    app.config["MAIL_SERVER"] = "127.0.0.1"

    assert services.deliver_pending(db.engine, app.config) == (1, 0)
    assert [m["Message-ID"].split(".")[1] for m in mailbox.wait_for(1)] == [str(stale.id)]
    assert [row.sent_at is not None for row in outbox(db)] == [False, False, True]


def test_a_message_that_cannot_be_sent_fails_alone(app, db, mailbox):
    app.config["MAIL_SERVER"] = ""
    queue_one(db, key="a", to="a@example.org\r\nBcc: victim@example.org")  # header injection
    queue_one(db, key="b", to="ok@example.org")
    db.session.commit()
    app.config["MAIL_SERVER"] = "127.0.0.1"
    assert services.deliver_pending(db.engine, app.config) == (1, 1)
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "ok@example.org"
    broken, ok = outbox(db)
    assert broken.sent_at is None
    assert "ValueError" in broken.last_error
    assert ok.sent_at is not None


# Orders -------------------------------------------------------------------------------------

@pytest.fixture
def market(db):
    """A café in Vannes, a farm serving it every day, carrots and eggs, a buyer."""
    point = PickupPoint(name="Café de la gare", kind=PickupKind.CAFE, address="2 place Gambetta",
                        postcode="56000", commune="Vannes", latitude=47.6582, longitude=-2.7608)
    db.session.add(point)
    farm = factories.producer(name="Ferme des Landes")
    other_farm = factories.producer(name="Le Verger", lat=47.70, lon=-2.70)
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 100),))
    apples = factories.product(other_farm, name="Pommes", variants=(("2 kg", 600, 100),))
    db.session.flush()
    for producer in (farm, other_farm):
        for weekday in range(7):
            db.session.add(DeliveryRound(producer_id=producer.id, pickup_point_id=point.id,
                                         weekday=weekday))
    buyer = factories.user(name="Claire Le Goff", commit=False)
    db.session.commit()
    return {"point": point, "carrots": carrots.variants[0], "apples": apples.variants[0],
            "buyer": buyer}


def make_slot(db, point, starts_in: timedelta) -> PickupSlot:
    starts = (now() + starts_in).replace(second=0, microsecond=0)
    slot = PickupSlot(pickup_point_id=point.id, starts_at=starts,
                      ends_at=starts + timedelta(hours=2),
                      cutoff_at=min(starts, now() + timedelta(hours=1)), capacity=20)
    db.session.add(slot)
    db.session.commit()
    return slot


def place_order(db, market, slot, *, buyer=None, status=OrderStatus.CONFIRMED) -> Order:
    with write_intent():
        order = order_services.checkout(
            db.session, buyer=buyer or market["buyer"], slot_id=slot.id, now=now(), tz=TZ,
            cart={str(market["carrots"].id): 3, str(market["apples"].id): 1},
                config=current_app.config
        )
        if order.status != status and status != OrderStatus.PENDING_PAYMENT:
            order_services.transition(order, OrderStatus.CONFIRMED, Actor.SYSTEM)
            if status == OrderStatus.READY:
                order_services.transition(order, OrderStatus.READY, Actor.PRODUCER)
            elif status == OrderStatus.CANCELLED:
                order_services.cancel(order, Actor.ADMIN, now(),
                    session=db.session, config=current_app.config)
        db.session.commit()
    return order


def local(slot_time: datetime, locale: str, fmt: str = SLOT_FORMAT) -> str:
    return babel_format_datetime(slot_time, fmt, tzinfo=PARIS, locale=locale)


EVENTS = {
    "order_confirmed": lambda s, order, slots: notify.order_confirmed(s, order),
    "sub_order_ready": lambda s, order, slots: notify.sub_order_ready(s, next(
        sub for sub in order.sub_orders if sub.producer.name == "Ferme des Landes")),
    "order_reminder": lambda s, order, slots: notify.order_reminder(s, order),
    "order_cancelled": lambda s, order, slots: notify.order_cancelled(
        s, order, reason="Grêle sur la ferme"),
    "slot_moved": lambda s, order, slots: notify.slot_moved(
        s, order, slots[0], slots[1], reason="Travaux place Gambetta"),
}


@pytest.mark.parametrize("locale", [None, "en"])
@pytest.mark.parametrize("event", list(EVENTS))
def test_order_emails_in_the_buyers_language(app, db, mailbox, market, event, locale):
    buyer = market["buyer"]
    buyer.locale = locale
    slot = make_slot(db, market["point"], timedelta(days=3))
    later = make_slot(db, market["point"], timedelta(days=4, hours=2))
    order = place_order(db, market, slot)
    db.session.expire_all()
    order = db.session.get(Order, order.id)

    with write_intent():
        message = EVENTS[event](db.session, order, (slot, later))
        assert message is not None
        assert EVENTS[event](db.session, order, (slot, later)) is None  # keyed: once
        db.session.commit()

    [mail] = mailbox.wait_for(1)
    body = mail.get_content()
    lang = locale or "fr"
    assert mail["To"] == buyer.email
    assert str(order.id) in mail["Subject"]
    assert str(order.id) in body
    assert f"http://127.0.0.1:5000/orders/{order.id}" in body
    assert "Café de la gare" in body
    assert "Claire Le Goff" in body
    when = local(slot.starts_at, lang)
    assert when in body, (when, body)
    if event == "slot_moved":
        assert local(later.starts_at, lang) in body
        assert "Travaux place Gambetta" in body
    else:
        assert "3 × Carottes (1 kg)" in body
    if event != "sub_order_ready" and event != "slot_moved":
        total = format_currency(order.total_cents / 100, "EUR", locale=lang)
        assert total in body, (total, body)
    if event == "sub_order_ready":
        assert "Ferme des Landes" in body
        assert "Pommes" not in body
    if event == "order_cancelled":
        assert "Grêle sur la ferme" in body
    if event == "order_reminder":
        assert local(slot.starts_at, lang) in mail["Subject"]
    if locale == "en":
        assert "Hello Claire Le Goff," in body
    # The weekday and month are the buyer's: "samedi 12 juin" or "Saturday 12 June".
    other = "en" if lang == "fr" else "fr"
    assert local(slot.starts_at, other, "EEEE") not in body


def test_reminder_says_what_is_left_to_pay(app, db, mailbox, market):
    slot = make_slot(db, market["point"], timedelta(days=1))
    order = place_order(db, market, slot)
    with write_intent():
        notify.order_reminder(db.session, order, to_pay_cents=1234)
        db.session.commit()
    [mail] = mailbox.wait_for(1)
    assert format_currency(12.34, "EUR", locale="fr") in mail.get_content()


# Reminders ----------------------------------------------------------------------------------

def test_reminders_due_picks_exactly_the_right_orders_in_one_query(db, mailbox, market,
                                                                   count_queries):
    point = market["point"]
    soon, tomorrow, later = (make_slot(db, point, timedelta(hours=h)) for h in (6, 24, 48))
    buyers = [factories.user(commit=False) for _ in range(6)]
    place_order(db, market, soon, buyer=buyers[0])  # before the window
    inside = place_order(db, market, tomorrow, buyer=buyers[1])
    ready = place_order(db, market, tomorrow, buyer=buyers[2], status=OrderStatus.READY)
    place_order(db, market, later, buyer=buyers[3])  # after the window
    place_order(db, market, tomorrow, buyer=buyers[4], status=OrderStatus.CANCELLED)
    reminded = place_order(db, market, tomorrow, buyer=buyers[5])
    place_order(db, market, tomorrow, status=OrderStatus.PENDING_PAYMENT)
    with write_intent():
        notify.order_reminder(db.session, reminded)
        db.session.commit()
    mailbox.clear()  # delivery is synchronous: what the set-up sent is in already
    emails = [buyer.email for buyer in buyers]
    expected = [inside.id, ready.id]
    db.session.expunge_all()

    with count_queries() as statements:
        due = notify.reminders_due(db.session, now())
        # Buyer, slot and point come with the orders.
        assert [(o.buyer.email, o.pickup_slot.pickup_point.name) for o in due] == [
            (emails[1], "Café de la gare"), (emails[2], "Café de la gare")]
    assert len(statements) == 1, statements
    assert [o.id for o in due] == expected

    with write_intent():
        assert notify.send_reminders(db.session, now()) == 2
        db.session.commit()
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == sorted([emails[1], emails[2]])
    assert notify.reminders_due(db.session, now()) == []


def test_send_reminders_command(app, db, mailbox, market):
    order = place_order(db, market, make_slot(db, market["point"], timedelta(hours=20)))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notifications", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 reminder(s) queued."
    [mail] = mailbox.wait_for(1)
    assert str(order.id) in mail["Subject"]
    result = runner.invoke(args=["notifications", "send-reminders"])
    assert result.output.strip() == "0 reminder(s) queued."
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


@pytest.mark.parametrize(("local_now", "slot_local", "reminded"), [
    ("2026-11-26 21:00", "2026-11-28 09:00", False),  # Thursday evening: Saturday is two days away
    ("2026-11-27 10:00", "2026-11-28 09:00", False),  # Friday morning: not before the evening
    ("2026-11-27 17:59", "2026-11-28 09:00", False),
    ("2026-11-27 18:00", "2026-11-28 09:00", True),   # Friday evening: the day before
    ("2026-11-27 23:59", "2026-11-28 09:00", True),
    ("2026-11-28 08:00", "2026-11-28 09:00", False),  # Saturday itself: no reminder on the day
    # Saturday evenings before a clock change: Sunday's slots, the early ones included.
    ("2027-03-27 18:00", "2027-03-28 00:30", True),
    ("2027-03-27 18:00", "2027-03-28 23:59", True),
    ("2027-03-27 18:00", "2027-03-29 00:00", False),
    ("2026-10-24 18:00", "2026-10-25 23:59", True),
    ("2026-10-24 18:00", "2026-10-26 00:00", False),
    # New Year's Eve: New Year's Day's slots, not those of the day after.
    ("2026-12-31 23:30", "2027-01-01 09:00", True),
    ("2026-12-31 23:30", "2027-01-02 09:00", False),
    ("2027-01-01 00:30", "2027-01-01 09:00", False),   # already the day itself in Paris
])
def test_the_jobs_remind_on_the_evening_before(local_now, slot_local, reminded):
    at = datetime.strptime(local_now, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
    slot_starts = datetime.strptime(slot_local, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
    window = notify.day_before_window(at.astimezone(UTC), "Europe/Paris")
    # In UTC: between two times of one zone, Python counts wall-clock hours.
    ahead = slot_starts.astimezone(UTC) - at.astimezone(UTC)
    inside = window is not None and window[0] <= ahead < window[1]
    assert inside is reminded


@pytest.mark.parametrize("clock", INSTANTS, indirect=True)
def test_the_jobs_remind_by_the_clock(app, db, mailbox, market, clock):
    """`flask jobs run --once` reads the clock itself: from 18:00 in Paris, the orders
    of the next local day's slots are reminded; never earlier, nor those of the day after."""
    local = clock.start.astimezone(PARIS)

    def at_nine(days: int) -> timedelta:
        starts = datetime.combine(local.date() + timedelta(days=days), time(9), tzinfo=PARIS)
        return starts.astimezone(UTC) - now()

    tomorrow = place_order(db, market, make_slot(db, market["point"], at_nine(1))).id
    place_order(db, market, make_slot(db, market["point"], at_nine(2)))
    expected = 1 if local.hour >= notify.REMINDER_HOUR else 0
    result = app.test_cli_runner().invoke(args=["jobs", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert f"reminders={expected}" in result.output.split()
    keys = set(db.session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.startswith(notify.REMINDER_KEY))))
    assert keys == ({f"{notify.REMINDER_KEY}{tomorrow}"} if expected else set())


def test_the_reminder_window_follows_the_clock_change():
    # Saturday 24 October 2026, 19:00: Sunday 25 has 25 hours (summer time ends).
    start, end = notify.day_before_window(
        datetime(2026, 10, 24, 19, tzinfo=PARIS).astimezone(UTC), "Europe/Paris")
    assert (start, end - start) == (timedelta(hours=5), timedelta(hours=25))
    # Saturday 27 March 2027, 19:00: Sunday 28 has 23 hours (summer time begins).
    start, end = notify.day_before_window(
        datetime(2027, 3, 27, 19, tzinfo=PARIS).astimezone(UTC), "Europe/Paris")
    assert (start, end - start) == (timedelta(hours=5), timedelta(hours=23))
