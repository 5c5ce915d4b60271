"""Market day e-mails a buyer asks for at a pickup point, and one-click unsubscribing.

Two kinds, each chosen on its own:

- ``opening``: orders are open for the point's next market day. Every slot is
  orderable as soon as it is generated (weeks ahead, PICKUP_WEEKS_AHEAD), so what
  opens for the buyer is the *next* market day: the point's earliest slot still
  taking orders (open, before its cut-off, a place left). It is announced once that
  slot is the next one, that is once the previous market day's cut-off has passed,
  to those who subscribed before then (who subscribed later saw it open).
- ``cutoff``: a reminder from CUTOFF_REMINDER_LEAD before a slot's cut-off until the
  cut-off, to those who have no order for that slot yet (and only while it has a
  place left).

Neither is sent to a buyer who already ordered for that slot. Each e-mail is queued
under a key per user, slot and kind, so a job run twice sends it once. Each carries
List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058) with a signed link
that stops that kind of e-mail for that point, without signing in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import render_template
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import String, and_, cast, func, literal, select
from sqlalchemy.orm import Session, joinedload

from marketplace.accounts.models import User
from marketplace.orders.models import Order, OrderStatus
from marketplace.pickup.models import PickupPoint, PickupSlot, SlotStatus
from marketplace.web.display import cutoff_people_say

from .models import MarketDaySubscription, OutboxMessage
from .orders import public_url
from .services import queue

OPENING = "opening"
CUTOFF = "cutoff"
KINDS = (OPENING, CUTOFF)
CUTOFF_REMINDER_LEAD = timedelta(hours=24)
# An order in one of these means the buyer has ordered for the slot.
LIVE_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.READY,
                 OrderStatus.COLLECTED)
DAY_FORMAT = "EEEE d MMMM"
_SALT = "market-day-mails.unsubscribe"


class BadToken(ValueError):
    """An unsubscribe link that was not made here (altered, cut short)."""


# Subscribing -------------------------------------------------------------------------

def can_subscribe(point: PickupPoint | None) -> bool:
    """A public, active point (not a restaurant's door)."""
    return point is not None and point.is_active and not point.is_door


def subscription_of(session: Session, user_id: int, point_id: int
                    ) -> MarketDaySubscription | None:
    return session.scalar(select(MarketDaySubscription).where(
        MarketDaySubscription.user_id == user_id,
        MarketDaySubscription.pickup_point_id == point_id))


def points_subscribed(session: Session, user_id: int) -> list[PickupPoint]:
    """The points whose market day e-mails the user asked for, by name."""
    return list(session.scalars(
        select(PickupPoint).join(MarketDaySubscription,
                                 MarketDaySubscription.pickup_point_id == PickupPoint.id)
        .where(MarketDaySubscription.user_id == user_id).order_by(PickupPoint.name)))


def set_kinds(session: Session, user: User, point: PickupPoint, kinds: set[str], *,
              now: datetime) -> MarketDaySubscription | None:
    """The e-mails ``user`` wants from ``point`` are exactly ``kinds`` (none: the
    subscription goes). Returns the subscription, None when there is none left."""
    if not kinds <= set(KINDS):
        raise ValueError(f"unknown kinds: {sorted(kinds - set(KINDS))}")
    subscription = subscription_of(session, user.id, point.id)
    if not kinds:
        if subscription is not None:
            session.delete(subscription)
            session.flush()
        return None
    if subscription is None:
        subscription = MarketDaySubscription(user_id=user.id, pickup_point_id=point.id,
                                             created_at=now)
        session.add(subscription)
    subscription.opening = OPENING in kinds
    subscription.cutoff = CUTOFF in kinds
    session.flush()
    return subscription


# Unsubscribe links ---------------------------------------------------------------------

def _serializer(config: Mapping) -> URLSafeSerializer:
    return URLSafeSerializer(config["SECRET_KEY"], salt=_SALT)


def unsubscribe_token(config: Mapping, subscription: MarketDaySubscription, kind: str) -> str:
    """Signed: the user, the point, the subscription and the kind of e-mail."""
    return _serializer(config).dumps(
        [subscription.user_id, subscription.pickup_point_id, subscription.id, kind])


def read_token(config: Mapping, token: str) -> tuple[int, int, int, str]:
    """(user id, point id, subscription id, kind) of a token; BadToken if altered."""
    try:
        payload = _serializer(config).loads(token)
    except BadSignature as exc:
        raise BadToken("this link was altered or cut short") from exc
    if (not isinstance(payload, list) or len(payload) != 4
            or not all(isinstance(n, int) for n in payload[:3]) or payload[3] not in KINDS):
        raise BadToken("this link does not name a subscription")
    return payload[0], payload[1], payload[2], payload[3]


def subscription_of_token(session: Session, config: Mapping, token: str
                          ) -> tuple[MarketDaySubscription | None, PickupPoint | None, str]:
    """(the subscription if it still exists and wants that kind, its point, the kind).
    BadToken for a link not made here."""
    user_id, point_id, subscription_id, kind = read_token(config, token)
    subscription = session.get(MarketDaySubscription, subscription_id)
    # Bound to the user and the point too: a row id may be reused once deleted.
    if subscription is not None and (subscription.user_id, subscription.pickup_point_id) \
            != (user_id, point_id):
        subscription = None
    if subscription is not None and not subscription.wants(kind):
        subscription = None
    return subscription, session.get(PickupPoint, point_id), kind


def unsubscribe(session: Session, config: Mapping, token: str
                ) -> tuple[bool, PickupPoint | None, str]:
    """Stop the kind of e-mail the token names. (whether it was still on, its point,
    the kind); unsubscribing twice is no error. BadToken for a link not made here."""
    subscription, point, kind = subscription_of_token(session, config, token)
    if subscription is None:
        return False, point, kind
    setattr(subscription, kind, False)
    if not (subscription.opening or subscription.cutoff):
        session.delete(subscription)
    session.flush()
    return True, point, kind


# The e-mails, queued by the scheduled jobs ----------------------------------------------

def _not_yet(kind: str, slot_id):
    """SQL: the subscriber has no order for the slot and this e-mail is not queued."""
    user_id = MarketDaySubscription.user_id
    key = (literal(f"market-day-{kind}:") + cast(user_id, String) + literal(":")
           + cast(slot_id, String))
    return and_(
        ~select(Order.id).where(Order.pickup_slot_id == slot_id, Order.buyer_id == user_id,
                                Order.status.in_(LIVE_STATUSES)).exists(),
        ~select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key).exists(),
    )


def _orderable(now: datetime):
    return (PickupSlot.status == SlotStatus.OPEN, PickupSlot.cutoff_at > now,
            PickupSlot.taken < PickupSlot.capacity)


def opening_due(session: Session, now: datetime) -> list[tuple[MarketDaySubscription, PickupSlot]]:
    """(subscription, slot) of every opening e-mail due: the slot is its point's next
    market day, the subscription predates the moment that slot opened (the previous
    slot's cut-off, or its creation if later), and the buyer has not ordered for it."""
    point_ids = session.scalars(
        select(MarketDaySubscription.pickup_point_id).distinct()
        .where(MarketDaySubscription.opening.is_(True))).all()
    due = []
    for point_id in point_ids:
        slot = session.scalar(
            select(PickupSlot).join(PickupSlot.pickup_point)
            .where(PickupSlot.pickup_point_id == point_id, *_orderable(now),
                   PickupPoint.is_active.is_(True), PickupPoint.private_buyer_id.is_(None))
            .order_by(PickupSlot.starts_at, PickupSlot.id).limit(1))
        if slot is None:
            continue
        previous_cutoff = session.scalar(
            select(func.max(PickupSlot.cutoff_at))
            .where(PickupSlot.pickup_point_id == point_id, PickupSlot.starts_at < slot.starts_at,
                   PickupSlot.cutoff_at <= now))
        opened_at = max(filter(None, (slot.created_at, previous_cutoff)))
        due += [(subscription, slot) for subscription in session.scalars(
            select(MarketDaySubscription)
            .where(MarketDaySubscription.pickup_point_id == point_id,
                   MarketDaySubscription.opening.is_(True),
                   MarketDaySubscription.created_at <= opened_at,
                   _not_yet(OPENING, literal(slot.id)))
            .options(joinedload(MarketDaySubscription.user))
            .order_by(MarketDaySubscription.id))]
    return due


def cutoff_due(session: Session, now: datetime) -> list[tuple[MarketDaySubscription, PickupSlot]]:
    """(subscription, slot) of every cut-off reminder due: the slot's cut-off is within
    CUTOFF_REMINDER_LEAD and still ahead, a place is left, and no order from the buyer."""
    rows = session.execute(
        select(MarketDaySubscription, PickupSlot)
        .join(PickupSlot, PickupSlot.pickup_point_id == MarketDaySubscription.pickup_point_id)
        .join(PickupSlot.pickup_point)
        .where(MarketDaySubscription.cutoff.is_(True), *_orderable(now),
               PickupSlot.cutoff_at <= now + CUTOFF_REMINDER_LEAD,
               PickupPoint.is_active.is_(True), PickupPoint.private_buyer_id.is_(None),
               _not_yet(CUTOFF, PickupSlot.id))
        .options(joinedload(MarketDaySubscription.user))
        .order_by(PickupSlot.cutoff_at, MarketDaySubscription.id)
    ).all()
    return [(subscription, slot) for subscription, slot in rows]


def dedupe_key(kind: str, user_id: int, slot_id: int) -> str:
    return f"market-day-{kind}:{user_id}:{slot_id}"


@contextmanager
def _language_of(user: User, config: Mapping) -> Iterator[None]:
    locale = user.locale if user.locale in config["LANGUAGES"] else None
    with force_locale(locale or config["BABEL_DEFAULT_LOCALE"]):
        yield


def market_day_mail(session: Session, config: Mapping, subscription: MarketDaySubscription,
                    slot: PickupSlot, kind: str) -> OutboxMessage | None:
    """Queue one e-mail of ``kind`` about ``slot`` for the subscriber, in their language;
    None when it was queued before."""
    user = subscription.user
    unsubscribe_url = public_url("market_day_mails.unsubscribe",
                                 token=unsubscribe_token(config, subscription, kind))
    point = slot.pickup_point
    with _language_of(user, config):
        day = format_datetime(slot.starts_at, DAY_FORMAT)
        if kind == OPENING:
            subject = _("Orders are open: %(point)s, %(day)s", point=point.name, day=day)
        else:
            subject = _("Last call: order before %(when)s for %(day)s at %(point)s",
                        when=cutoff_people_say(slot.cutoff_at), day=day,
                        point=point.name)
        body = render_template(f"mail/market_day_{kind}.txt", buyer=user, slot=slot,
                               point=point, shop_url=public_url("market_day.choose", slot=slot.id,
                                                               next="/catalogue"),
                               unsubscribe_url=unsubscribe_url)
    return queue(session, to=user.email, subject=subject, body=body,
                 key=dedupe_key(kind, user.id, slot.id),
                 headers={"List-Unsubscribe": f"<{unsubscribe_url}>",
                          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def queue_due(session: Session, config: Mapping, *, now: datetime) -> int:
    """Queue every market day e-mail due (scheduled jobs, every round); how many."""
    queued = 0
    for kind, due in ((OPENING, opening_due(session, now)), (CUTOFF, cutoff_due(session, now))):
        for subscription, slot in due:
            if market_day_mail(session, config, subscription, slot, kind) is not None:
                queued += 1
    return queued
