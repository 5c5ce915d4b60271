"""The e-mails a farm receives: a new order with its part of it, and the summary of a
slot at its cut-off with the pick list attached (reports/slot_summaries.py)."""

from __future__ import annotations

from flask import render_template
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace.orders.models import Order, OrderStatus, SubOrder

from .models import OutboxMessage
from .orders import language_of, public_url
from .services import Attachment, queue

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


def new_orders(session: Session, order: Order) -> list[OutboxMessage]:
    """The new-order e-mail of each farm with an active part in the order."""
    queued = [new_order(session, sub) for sub in order.sub_orders
              if sub.status != OrderStatus.CANCELLED]
    return [message for message in queued if message is not None]


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
