"""What orders answers when an account is exported or deleted (accounts/signals.py).

Orders sits on the domains an account's life hangs on (producers, catalogue,
pickup), so it also answers for them: an account is not deleted while something
still waits on it, an order to collect, a farm's catalogue on sale or its orders to
prepare, a pickup point still open. The orders themselves stay (the law keeps them,
on the anonymised account).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts import signals as account_signals
from marketplace.accounts.models import User
from marketplace.catalogue.models import Product
from marketplace.pickup.models import PickupPoint, PickupSlot
from marketplace.producers.models import Producer

from .models import Order, OrderStatus, SubOrder

# An order (or a farm's part of one) in these still waits for someone.
OPEN_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.READY)


def deletion_problem(user: User, *, session: Session, **_kw):
    if session.scalar(select(exists().where(Order.buyer_id == user.id,
                                            Order.status.in_(OPEN_STATUSES)))):
        return _l("You have orders still to collect: collect or cancel them first.")
    farm_id = session.scalar(select(Producer.id).where(Producer.user_id == user.id))
    if farm_id is not None:
        if session.scalar(select(exists().where(SubOrder.producer_id == farm_id,
                                                SubOrder.status.in_(OPEN_STATUSES)))):
            return _l("Your farm has orders still to prepare or hand over: finish them "
                      "first.")
        if session.scalar(select(exists().where(Product.producer_id == farm_id,
                                                Product.is_active.is_(True)))):
            return _l("Your farm still has products on sale: take them off sale first, "
                      "so that no one orders from a farm that is gone.")
    if session.scalar(select(exists().where(PickupPoint.host_id == user.id,
                                            PickupPoint.is_active.is_(True),
                                            PickupPoint.private_buyer_id.is_(None)))):
        return _l("You host pickup points that are still open: close them (or ask us to "
                  "hand them to another host) first.")
    return None


def exported_orders(user: User, *, session: Session, **_kw) -> dict:
    orders = session.scalars(
        select(Order).where(Order.buyer_id == user.id).order_by(Order.created_at, Order.id)
        .options(selectinload(Order.sub_orders).selectinload(SubOrder.lines),
                 selectinload(Order.sub_orders).selectinload(SubOrder.producer),
                 selectinload(Order.pickup_slot).selectinload(PickupSlot.pickup_point))
    ).all()
    return {"orders": [_order_data(order) for order in orders]}


def _order_data(order: Order) -> dict:
    slot = order.pickup_slot
    return {
        "number": order.id,
        "placed_at": order.created_at.isoformat(),
        "status": str(order.status),
        "payment_method": str(order.payment_method),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "total_cents": order.total_cents,
        "vat_cents": order.vat_cents,
        "currency": order.currency,
        "pickup_point": slot.pickup_point.name,
        "pickup_starts_at": slot.starts_at.isoformat(),
        "lines": [
            {
                "producer": sub.producer.name,
                "product": line.product_name,
                "variant": line.variant_label,
                "quantity": line.quantity,
                "quantity_short": line.quantity_short,
                "unit_price_cents": line.unit_price_cents,
                "vat_rate_bp": line.vat_rate_bp,
                "line_total_cents": line.line_total_cents,
            }
            for sub in order.sub_orders for line in sub.lines
        ],
    }


def connect_receivers() -> None:
    account_signals.deletion_checked.connect(deletion_problem, weak=False)
    account_signals.data_exported.connect(exported_orders, weak=False)
