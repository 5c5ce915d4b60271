"""The summary of a slot at its cut-off: once orders for a market day close, each farm
with orders in it gets one e-mail with the totals per product and its pick list
attached as CSV (in its language and its spreadsheet's style). Queued by the scheduled
jobs, once per slot and farm (the outbox's dedupe key)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import get_locale
from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from marketplace.downloads import csv_style
from marketplace.notifications import farms as farm_mails
from marketplace.notifications import orders as notify
from marketplace.notifications import preferences
from marketplace.notifications.models import NoticePreference, OutboxMessage
from marketplace.notifications.services import Attachment
from marketplace.orders.models import FULFILMENT_STATUSES, Order, SubOrder
from marketplace.pickup.models import PickupSlot
from marketplace.producers.models import Producer

from . import pick_lists

# A cut-off longer ago than this is not summarised any more (a runner stopped for
# days, or the first run of this job, does not mail old market days).
LATEST = timedelta(hours=12)


def due(session: Session, now: datetime) -> list[tuple[Producer, PickupSlot]]:
    """(farm, slot) of every summary due: the slot's cut-off has passed (within LATEST),
    the farm has confirmed orders in it, did not switch summaries off, and its summary
    is not queued yet."""
    key = (literal(farm_mails.SLOT_SUMMARY_KEY) + cast(PickupSlot.id, String) + literal(":")
           + cast(Producer.id, String))
    rows = session.execute(
        select(Producer.id, PickupSlot.id, PickupSlot.cutoff_at).distinct()
        .select_from(SubOrder)
        .join(Order, Order.id == SubOrder.order_id)
        .join(PickupSlot, PickupSlot.id == Order.pickup_slot_id)
        .join(Producer, Producer.id == SubOrder.producer_id)
        .where(PickupSlot.cutoff_at <= now, PickupSlot.cutoff_at > now - LATEST,
               SubOrder.status.in_(list(FULFILMENT_STATUSES)),
               ~exists().where(OutboxMessage.dedupe_key == key),
               ~exists().where(NoticePreference.user_id == Producer.user_id,
                               NoticePreference.kind == preferences.FARM_SLOT_SUMMARY,
                               NoticePreference.enabled.is_(False)))
        .order_by(PickupSlot.cutoff_at, PickupSlot.id, Producer.id)
    ).all()
    return [(session.get(Producer, producer_id), session.get(PickupSlot, slot_id))
            for producer_id, slot_id, _cutoff in rows]


def summarise(session: Session, producer: Producer, slot: PickupSlot) -> OutboxMessage | None:
    lines = pick_lists.pick_list(session, producer.id, slot.id)
    with notify.language_of(producer.user):
        attachment = Attachment(pick_lists.csv_filename("pick-list", slot), "text/csv",
                                pick_lists.pick_list_csv(lines, csv_style(get_locale())))
    return farm_mails.slot_summary(session, producer, slot, lines, attachment)


def queue_due(session: Session, *, now: datetime) -> int:
    """Queue every summary due (scheduled jobs, every round); how many."""
    return sum(1 for producer, slot in due(session, now)
               if summarise(session, producer, slot) is not None)
