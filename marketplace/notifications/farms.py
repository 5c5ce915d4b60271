"""The e-mails a farm receives: a new order with its part of it, and the summary of a
slot at its cut-off with the pick list attached (reports/slot_summaries.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.orders.models import FULFILMENT_STATUSES, Order, OrderStatus, SubOrder

from . import preferences
from .models import DigestItem, NoticePreference, OutboxMessage
from .orders import language_of, public_url
from .services import Attachment, already_queued, queue

NEW_ORDER_KEY = "farm-new-order:"


def new_order(session: Session, sub: SubOrder) -> OutboxMessage | None:
    """To the farm, once per sub-order: the order it has to prepare, its lines, the
    market day and place, and who buys; in the farm's language."""
    order: Order = sub.order
    farmer = sub.producer.user
    slot = order.pickup_slot
    with language_of(farmer):
        subject = _("New order %(number)s from %(buyer)s", number=order.id,
                    buyer=order.buyer.display_name)
        body = render_template(
            "mail/farm_new_order.txt", farmer=farmer, sub=sub, order=order, slot=slot,
            buyer=order.buyer,
            slot_url=public_url("farm_orders.slot", slot_id=slot.id))
    return queue(session, to=farmer.email, subject=subject, body=body,
                 key=f"{NEW_ORDER_KEY}{sub.id}")


def new_orders(session: Session, order: Order, *, now: datetime) -> list[OutboxMessage]:
    """The new-order e-mail of each farm with an active part in the order, as the farm
    chose: at once, in its next daily digest, or not at all."""
    queued = []
    for sub in order.sub_orders:
        if sub.status == OrderStatus.CANCELLED:
            continue
        farmer_id = sub.producer.user_id
        if not preferences.wants(session, farmer_id, preferences.FARM_NEW_ORDER):
            continue
        if preferences.digest_hour(session, farmer_id) is not None:
            if session.get(DigestItem, sub.id) is None:
                session.add(DigestItem(sub_order_id=sub.id, user_id=farmer_id,
                                       created_at=now))
                session.flush()
            continue
        queued.append(new_order(session, sub))
    return [message for message in queued if message is not None]


DIGEST_KEY = "farm-digest:"


def digests_due(session: Session, now: datetime, tz: str) -> list[tuple[int, str]]:
    """(farmer's user id, digest key) of every digest due: the farm's chosen hour has
    come today (local time), today's digest is not queued, and new orders wait."""
    local = now.astimezone(ZoneInfo(tz))
    due = []
    for user_id in session.scalars(
            select(NoticePreference.user_id)
            .where(NoticePreference.kind == preferences.FARM_NEW_ORDER,
                   NoticePreference.enabled.is_(True),
                   NoticePreference.digest_hour.is_not(None),
                   NoticePreference.digest_hour <= local.hour,
                   select(DigestItem.sub_order_id)
                   .where(DigestItem.user_id == NoticePreference.user_id,
                          DigestItem.digest_key.is_(None)).exists())
            .order_by(NoticePreference.user_id)):
        key = f"{DIGEST_KEY}{user_id}:{local.date().isoformat()}"
        if not already_queued(session, key):
            due.append((user_id, key))
    return due


def digest(session: Session, user_id: int, key: str) -> OutboxMessage | None:
    """One e-mail listing the farm's orders confirmed since its last digest (those
    still to prepare: a cancelled one is left out)."""
    items = list(session.scalars(
        select(DigestItem).where(DigestItem.user_id == user_id, DigestItem.digest_key.is_(None))
        .order_by(DigestItem.created_at, DigestItem.sub_order_id)))
    subs = [sub for sub in (session.get(SubOrder, item.sub_order_id) for item in items)
            if sub is not None and sub.status in FULFILMENT_STATUSES]
    for item in items:
        item.digest_key = key
    if not subs:
        session.flush()
        return None
    farmer = subs[0].producer.user
    with language_of(farmer):
        subject = ngettext("%(num)d new order for %(farm)s", "%(num)d new orders for %(farm)s",
                           len(subs), farm=subs[0].producer.name)
        body = render_template(
            "mail/farm_digest.txt", farmer=farmer, subs=subs,
            slot_url=lambda slot: public_url("farm_orders.slot", slot_id=slot.id))
    return queue(session, to=farmer.email, subject=subject, body=body, key=key)


def queue_digests(session: Session, *, now: datetime, tz: str) -> int:
    """Queue every digest due (scheduled jobs, every round); how many."""
    return sum(1 for user_id, key in digests_due(session, now, tz)
               if digest(session, user_id, key) is not None)


SLOT_SUMMARY_KEY = "slot-summary:"


def slot_summary(session: Session, producer, slot, lines, pick_list: Attachment
                 ) -> OutboxMessage | None:
    """To the farm, once per slot: orders are closed; what to bring (``lines``, the
    pick list's), the pick list attached."""
    farmer = producer.user
    with language_of(farmer):
        subject = _("Orders closed for %(day)s at %(point)s: what to bring",
                    day=format_datetime(slot.starts_at, "EEEE d MMMM"),
                    point=slot.pickup_point.name)
        body = render_template(
            "mail/farm_slot_summary.txt", farmer=farmer, producer=producer, slot=slot,
            lines=lines, slot_url=public_url("farm_orders.slot", slot_id=slot.id))
    return queue(session, to=farmer.email, subject=subject, body=body,
                 key=f"{SLOT_SUMMARY_KEY}{slot.id}:{producer.id}", attachments=(pick_list,))
