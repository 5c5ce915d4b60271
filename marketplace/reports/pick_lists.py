"""The farm's lists: its incoming slots, the pick list of a slot (the total of each
variant, one aggregate query) and its packing list (per buyer). Read only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from marketplace.accounts.models import User
from marketplace.downloads import CsvStyle, escape_cell
from marketplace.orders.models import FULFILMENT_STATUSES, Order, OrderLine, OrderStatus, SubOrder
from marketplace.pickup.models import PickupPoint, PickupSlot, SlotStatus


@dataclass(frozen=True)
class IncomingSlot:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime
    slot_status: SlotStatus
    point_name: str
    point_commune: str
    orders: int
    ready: int
    collected: int
    total_cents: int


def incoming_slots(session: Session, producer_id: int, *, since: datetime,
                   limit: int = 100) -> list[IncomingSlot]:
    """The farm's slots that end after ``since`` and hold at least one of its sub-orders
    (pending payment ones left out: not sure yet), soonest first, in one query."""
    statuses = list(FULFILMENT_STATUSES)
    rows = session.execute(
        select(
            PickupSlot.id, PickupSlot.starts_at, PickupSlot.ends_at, PickupSlot.cutoff_at,
            PickupSlot.status, PickupPoint.name, PickupPoint.commune,
            func.count(SubOrder.id),
            func.sum(case((SubOrder.status == OrderStatus.READY, 1), else_=0)),
            func.sum(case((SubOrder.status == OrderStatus.COLLECTED, 1), else_=0)),
            func.sum(SubOrder.subtotal_cents),
        )
        .select_from(SubOrder)
        .join(Order, Order.id == SubOrder.order_id)
        .join(PickupSlot, PickupSlot.id == Order.pickup_slot_id)
        .join(PickupPoint, PickupPoint.id == PickupSlot.pickup_point_id)
        .where(SubOrder.producer_id == producer_id, SubOrder.status.in_(statuses),
               PickupSlot.ends_at > since)
        .group_by(PickupSlot.id, PickupSlot.starts_at, PickupSlot.ends_at, PickupSlot.cutoff_at,
                  PickupSlot.status, PickupPoint.name, PickupPoint.commune)
        .order_by(PickupSlot.starts_at, PickupSlot.id)
        .limit(limit)
    ).all()
    return [IncomingSlot(*row[:7], orders=int(row[7]), ready=int(row[8] or 0),
                         collected=int(row[9] or 0), total_cents=int(row[10] or 0))
            for row in rows]


@dataclass(frozen=True)
class PickLine:
    variant_id: int | None
    product_name: str
    variant_label: str
    quantity: int
    short: int
    buyers: int

    @property
    def to_pick(self) -> int:
        return self.quantity - self.short


def pick_list(session: Session, producer_id: int, slot_id: int) -> list[PickLine]:
    """Total quantity of each variant the farm brings to the slot: ONE aggregate query,
    whatever the number of lines. Grouped by the names copied on the lines, so a
    variant renamed or deleted since still shows what the buyers ordered."""
    rows = session.execute(
        select(
            OrderLine.variant_id, OrderLine.product_name, OrderLine.variant_label,
            func.sum(OrderLine.quantity), func.sum(OrderLine.quantity_short),
            func.count(func.distinct(SubOrder.id)),
        )
        .select_from(OrderLine)
        .join(SubOrder, SubOrder.id == OrderLine.sub_order_id)
        .join(Order, Order.id == SubOrder.order_id)
        .where(SubOrder.producer_id == producer_id, Order.pickup_slot_id == slot_id,
               SubOrder.status.in_(list(FULFILMENT_STATUSES)))
        .group_by(OrderLine.variant_id, OrderLine.product_name, OrderLine.variant_label)
        .order_by(OrderLine.product_name, OrderLine.variant_label, OrderLine.variant_id)
    ).all()
    return [PickLine(row[0], row[1], row[2], int(row[3]), int(row[4] or 0), int(row[5]))
            for row in rows]


def csv_filename(kind: str, slot: PickupSlot) -> str:
    day = format_datetime(slot.starts_at, "yyyy-MM-dd")
    return f"{kind}-{day}-slot{slot.id}.csv"


def pick_list_csv(lines: list[PickLine], style: CsvStyle) -> bytes:
    """The pick list as the farm downloads it (headers in the current language)."""
    rows = [[_("product"), _("variant"), _("quantity"), _("missing"), _("to pick"), _("buyers")]]
    for line in lines:
        rows.append([escape_cell(line.product_name), escape_cell(line.variant_label),
                     str(line.quantity), str(line.short), str(line.to_pick), str(line.buyers)])
    return style.encode(rows)


def packing_list(session: Session, producer_id: int, slot_id: int) -> list[SubOrder]:
    """The farm's sub-orders for the slot, one per buyer, with their lines and buyer
    (three queries whatever their number), by buyer name."""
    return list(session.scalars(
        select(SubOrder)
        .join(Order, Order.id == SubOrder.order_id)
        .join(User, User.id == Order.buyer_id)
        .where(SubOrder.producer_id == producer_id, Order.pickup_slot_id == slot_id,
               SubOrder.status.in_(list(FULFILMENT_STATUSES)))
        .options(joinedload(SubOrder.order).joinedload(Order.buyer),
                 joinedload(SubOrder.order).joinedload(Order.placed_by),
                 selectinload(SubOrder.lines))
        .order_by(func.lower(User.display_name), Order.id)
    ).unique())
