"""After checkout, what changes an order: a farm marks its sub-order ready, with the
units it could not supply ("short"); a host checks an order off as collected (and
how a pay-at-pickup order was paid) or undoes it; a host or admin moves or cancels
the orders of a closed date. Buyer: what a past order would put back in the cart.
The lists these are done from (pick, packing, distribution) are in reports.

Plain functions with explicit arguments; they flush, never commit. Every status
change goes through ``services.transition`` (the one state machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask_babel import lazy_gettext as _
from flask_babel import lazy_ngettext
from sqlalchemy import and_, case, select, update
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts.models import User
from marketplace.catalogue.models import Product, SaleMode, Variant
from marketplace.catalogue.pricing import is_wholesale_buyer
from marketplace.models import get_by_id
from marketplace.pickup.models import PickupSlot, SlotStatus
from marketplace.pickup.rounds import serving
from marketplace.producers.models import Producer

from . import signals
from .models import (
    ACTIVE_STATUSES,
    Actor,
    CounterPayment,
    Order,
    OrderStatus,
    PaymentMethod,
    SubOrder,
)
from .services import TransitionError, allowed, cancel, transition


class FulfilmentError(ValueError):
    """Refused input: ``message`` says why in plain words (a lazy string)."""

    def __init__(self, message):
        super().__init__("refused")  # the lazy message is rendered in a request, not here
        self.message = message


# Producer: ready, with what is short ----------------------------------------------------

def sub_order_of(session: Session, producer_id: int, sub_order_id: int) -> SubOrder | None:
    """The farm's own sub-order, or None (another farm's is not found)."""
    sub = get_by_id(session, SubOrder, sub_order_id)
    return sub if sub is not None and sub.producer_id == producer_id else None


def parse_shorts(sub: SubOrder, raw: dict[int, str]) -> dict[int, int]:
    """line id -> units short, from the packing form's text fields. FulfilmentError
    names the line when a value is not a whole number between 0 and the quantity."""

    by_id = {line.id: line for line in sub.lines}
    shorts: dict[int, int] = {}
    for line_id, text in raw.items():
        line = by_id.get(line_id)
        if line is None:
            raise FulfilmentError(_("This line is not part of this order."))
        text = (text or "").strip() or "0"
        if not (text.isascii() and text.isdigit()) or len(text) > 9 or \
                int(text) > line.quantity:
            raise FulfilmentError(_(
                "%(item)s: the missing quantity must be a whole number from 0 to %(max)d.",
                item=f"{line.product_name} ({line.variant_label})", max=line.quantity,
            ))
        shorts[line_id] = int(text)
    return shorts


def _sync_order(order: Order, actor: Actor) -> None:
    """The order follows its sub-orders: ready when every active one is ready,
    collected when every one is collected (moves checked by the state machine)."""
    active = order.active_sub_orders
    if not active:
        return
    statuses = {sub.status for sub in active}
    for target in (OrderStatus.COLLECTED, OrderStatus.READY):
        if statuses == {target} and order.status != target and allowed(order.status, target,
                                                                          actor):
            order.status = target
            return


def set_shorts(session: Session, sub: SubOrder, shorts: dict[int, int], *,
               now: datetime, config: Mapping) -> None:
    """Record the units the farm cannot supply, while the sub-order is not yet collected.
    Each changed line is announced (payments refunds a card-paid order's missing units,
    after the commit), then the sub-order's shorts (wholesale credits a restaurant's
    invoice). A receiver's refusal is a FulfilmentError."""

    if sub.status not in (OrderStatus.CONFIRMED, OrderStatus.READY):
        raise FulfilmentError(_("This order can no longer be changed."))
    try:
        for line in sub.lines:
            if line.id in shorts and shorts[line.id] != line.quantity_short:
                lowered = shorts[line.id] < line.quantity_short
                line.quantity_short = shorts[line.id]
                signals.line_short_changed.send(line, session=session, now=now, config=config,
                                                lowered=lowered)
        session.flush()
        signals.shorts_recorded.send(sub, session=session, now=now, config=config)
    except signals.Refused as exc:
        raise FulfilmentError(exc.message) from None


def mark_ready(session: Session, sub: SubOrder, *, now: datetime,
               config: Mapping, shorts: dict[int, int] | None = None) -> SubOrder:
    """The farm has packed this buyer's sub-order (with any short units); the buyer is told."""

    if shorts:
        set_shorts(session, sub, shorts, now=now, config=config)
    if sub.status == OrderStatus.READY:
        return sub
    if not allowed(sub.status, OrderStatus.READY, Actor.PRODUCER):
        raise FulfilmentError(_("This order cannot be marked ready: it was cancelled or "
                                "already handed over."))
    transition(sub, OrderStatus.READY, Actor.PRODUCER)
    sub.ready_at = now
    _sync_order(sub.order, Actor.PRODUCER)
    session.flush()
    signals.sub_order_ready.send(sub, session=session, now=now)
    return sub


# Host: check-off ------------------------------------------------------------------------

def order_in_slot(session: Session, slot_id: int, order_id: int) -> Order | None:
    order = get_by_id(session, Order, order_id)
    return order if order is not None and order.pickup_slot_id == slot_id else None


def mark_collected(session: Session, order: Order, *, now: datetime, actor: Actor = Actor.HOST,
                   config: Mapping, paid_with: CounterPayment | None = None) -> Order:
    """The buyer took the order: every active sub-order is collected. An unpaid
    pay-at-pickup order needs how it was paid (cash, cheque, card). Announced by
    ``signals.order_collected`` (payments records what was paid at the counter in the
    farms' ledger, wholesale marks a restaurant's invoices paid)."""

    if order.status == OrderStatus.COLLECTED:
        return order  # ticked twice (two volunteers, a double tap): nothing more to do
    if order.status not in (OrderStatus.CONFIRMED, OrderStatus.READY):
        raise FulfilmentError(_("This order cannot be handed over: it was cancelled or "
                                "is not confirmed yet."))
    if not order.is_paid and order.payment_method != PaymentMethod.INVOICE:
        # (An order on invoice is handed over unpaid: the farms' invoices are due later.)
        if order.payment_method != PaymentMethod.AT_PICKUP:
            raise FulfilmentError(_("This order is not paid yet."))
        if paid_with is None:
            raise FulfilmentError(_("Say how the buyer paid: cash, cheque or card."))
        order.paid_with = CounterPayment(paid_with)
        order.paid_at = now
    signals.order_collected.send(order, session=session, now=now, config=config)
    for sub in order.active_sub_orders:
        if sub.status != OrderStatus.COLLECTED:
            transition(sub, OrderStatus.COLLECTED, actor)
            sub.collected_at = now
    transition(order, OrderStatus.COLLECTED, actor)
    session.flush()
    return order


def undo_collected(session: Session, order: Order, *, now: datetime,
                   actor: Actor = Actor.HOST) -> Order:
    """A check-off ticked by mistake: each farm's part goes back to where it was (ready
    if the farm marked it so, else to prepare), the order with them (and to pay, if
    paid at the counter: ``signals.counter_payment_undone``)."""

    if order.status != OrderStatus.COLLECTED:
        raise FulfilmentError(_("This order is not marked as collected."))
    parts = order.active_sub_orders
    for sub in parts:
        transition(sub, OrderStatus.READY if sub.ready_at else OrderStatus.CONFIRMED, actor)
        sub.collected_at = None
    transition(order, OrderStatus.READY if all(sub.ready_at for sub in parts)
               else OrderStatus.CONFIRMED, actor)
    if order.payment_method == PaymentMethod.AT_PICKUP and order.paid_with is not None:
        order.paid_with = None
        order.paid_at = None
        signals.counter_payment_undone.send(order, session=session, now=now)
    session.flush()
    return order


# Host or admin: a closed date's orders go to another date ---------------------------------

def active_orders_of_slot(session: Session, slot_id: int) -> list[Order]:
    return list(session.scalars(
        select(Order).where(Order.pickup_slot_id == slot_id,
                            Order.status.in_(list(ACTIVE_STATUSES)))
        .options(selectinload(Order.sub_orders)).order_by(Order.id)
    ))


def move_orders(session: Session, from_slot: PickupSlot, to_slot: PickupSlot, *,
                now: datetime, tz: str, reason: str = "") -> int:
    """Move every active order of ``from_slot`` to ``to_slot`` of the same point, in the
    caller's transaction: the places are taken in the target with ONE conditional
    UPDATE (all or none), given back in the source, and each buyer is told.
    FulfilmentError when the target is not a later open date with room for them all."""

    if to_slot.id == from_slot.id or to_slot.pickup_point_id != from_slot.pickup_point_id:
        raise FulfilmentError(_("Choose another date of this pickup point."))
    if to_slot.status != SlotStatus.OPEN or to_slot.ends_at <= now:
        raise FulfilmentError(_("The date chosen is closed or already over."))
    orders = active_orders_of_slot(session, from_slot.id)
    if not orders:
        return 0
    away = _farms_not_serving(session, orders, to_slot, tz=tz)
    if away:

        raise FulfilmentError(lazy_ngettext(
            "%(farms)s does not deliver to this point on the date chosen: choose a date "
            "it serves, or cancel the orders.",
            "%(farms)s do not deliver to this point on the date chosen: choose a date "
            "they serve, or cancel the orders.", len(away), farms=", ".join(sorted(away))))
    count = len(orders)
    table = PickupSlot.__table__
    taken = session.execute(
        update(table)
        .where(table.c.id == to_slot.id, table.c.status == SlotStatus.OPEN,
               table.c.taken + count <= table.c.capacity)
        .values(taken=table.c.taken + count)
    )
    if taken.rowcount != 1:
        session.refresh(to_slot)
        raise FulfilmentError(_(
            "The date chosen has %(left)d place(s) left for %(count)d order(s). Choose another "
            "date or raise its capacity.", left=to_slot.places_left, count=count))
    session.execute(
        update(table).where(table.c.id == from_slot.id)
        .values(taken=case((table.c.taken >= count, table.c.taken - count), else_=0))
    )
    order_ids = [order.id for order in orders]
    session.execute(
        update(Order.__table__).where(Order.__table__.c.id.in_(order_ids))
        .values(pickup_slot_id=to_slot.id)
    )
    session.flush()
    for order in orders:
        session.refresh(order)
        signals.order_moved.send(order, session=session, old_slot=from_slot, new_slot=to_slot,
                                 reason=reason)
    session.expire(from_slot, ["taken"])
    session.expire(to_slot, ["taken"])
    return count


def _farms_not_serving(session: Session, orders: list[Order], slot: PickupSlot, *,
                       tz: str) -> set[str]:
    """Names of the farms in ``orders`` whose rounds do not bring them to ``slot``."""


    farm_ids = {sub.producer_id for order in orders for sub in order.active_sub_orders}
    farms = session.scalars(select(Producer).where(Producer.id.in_(farm_ids))).all()
    served = serving(session, farms, slot, tz=tz)
    return {farm.name for farm in farms if farm.id not in served}


def cancel_orders_of_slot(session: Session, slot: PickupSlot, *, now: datetime,
                          config: Mapping, reason: str = "") -> int:
    """Cancel every active order of a closed date (no other date to move them to),
    giving stock and places back; each buyer is told."""

    cancelled = 0
    for order in active_orders_of_slot(session, slot.id):
        try:
            cancel(order, Actor.ADMIN, now, session=session, config=config, reason=reason)
        except TransitionError:
            continue  # changed meanwhile (cancelled by its buyer): nothing to do
        cancelled += 1
    return cancelled


# Buyer: reorder ------------------------------------------------------------------------------

def reorder_lines(session: Session, order: Order, *,
                  buyer=None) -> tuple[dict[int, int], list[str]]:
    """What a past order would put back in the cart: variant id -> quantity for what is
    still sold to ``buyer`` (in one query), and the names of what is not. A variant now
    sold wholesale only comes back for an approved restaurant only (the cart's rule)."""
    wanted: dict[int, int] = {}
    names: dict[int, str] = {}
    missing: list[str] = []
    for line in order.lines:
        label = f"{line.product_name} ({line.variant_label})"
        if line.variant_id is None:
            missing.append(label)
            continue
        wanted[line.variant_id] = wanted.get(line.variant_id, 0) + line.quantity
        names[line.variant_id] = label
    if not wanted:
        return {}, missing

    # The cart's own rule (cart.orderable_variant), for all the lines in one query.
    wholesale_buyer = is_wholesale_buyer(buyer)
    on_sale = {variant_id for variant_id, mode in session.execute(
        select(Variant.id, Variant.sale_mode).join(Product, Product.id == Variant.product_id)
        .join(Producer, Producer.id == Product.producer_id)
        .join(User, User.id == Producer.user_id)
        .where(Variant.id.in_(list(wanted)),
               and_(Variant.is_active.is_(True), Product.is_active.is_(True),
                    User.approved_at.is_not(None)))
    ) if wholesale_buyer or mode != SaleMode.WHOLESALE}
    for variant_id in list(wanted):
        if variant_id not in on_sale:
            missing.append(names[variant_id])
            del wanted[variant_id]
    return wanted, missing
