"""The host's distribution sheet of a slot: every order to hand over or handed over,
with its buyer, farms and lines, in a fixed number of queries. Read only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from marketplace.accounts.models import User
from marketplace.orders.models import FULFILMENT_STATUSES, Order, SubOrder


def distribution_sheet(session: Session, slot_id: int) -> list[Order]:
    """Every order of the slot that is to be handed over or was, with its buyer,
    sub-orders, farms and lines (a fixed number of queries), by buyer name."""
    return list(session.scalars(
        select(Order)
        .join(User, User.id == Order.buyer_id)
        .where(Order.pickup_slot_id == slot_id, Order.status.in_(list(FULFILMENT_STATUSES)))
        .options(joinedload(Order.buyer), joinedload(Order.placed_by),
                 selectinload(Order.sub_orders).joinedload(SubOrder.producer),
                 selectinload(Order.sub_orders).selectinload(SubOrder.lines))
        .order_by(func.lower(User.display_name), Order.id)
    ).unique())
