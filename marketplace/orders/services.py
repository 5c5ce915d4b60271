"""Checkout and the order state machine.

Plain functions with explicit arguments; they flush, never commit (except
``place_once``, which commits the order a form places). ``checkout``
runs inside the caller's transaction: the caller commits on success and rolls
back on ``CheckoutError`` (or any other error), so a refused checkout leaves no
order, no reserved stock and no taken slot place.

Stock and slot places are changed only with conditional UPDATEs whose row count
says whether they applied (never read-then-write), so concurrent buyers can never
oversell a variant or overfill a slot, on SQLite (writes in BEGIN IMMEDIATE) and
on PostgreSQL (row locks, WHERE re-checked after a wait in READ COMMITTED).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import format_date
from flask_babel import lazy_gettext as _
from flask_babel import lazy_ngettext as ngettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from marketplace.accounts.services import receives_mail
from marketplace.catalogue import pricing
from marketplace.catalogue.models import Variant
from marketplace.geo.services import distance_km
from marketplace.models import CURRENCY, get_by_id
from marketplace.orders import cart as cart_service
from marketplace.pickup import services as pickup_services
from marketplace.pickup.models import PickupPoint, PickupSlot, SlotStatus
from marketplace.pickup.rounds import serving
from marketplace.producers.models import Producer

from . import signals
from .models import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    Actor,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    SubOrder,
)

# Refusal codes ----------------------------------------------------------------------
EMPTY_CART = "empty_cart"
SLOT_UNKNOWN = "slot_unknown"
SLOT_FULL = "slot_full"
SLOT_CLOSED = "slot_closed"
SLOT_CUT_OFF = "slot_cut_off"
VARIANT_GONE = "variant_gone"
NOT_ENOUGH_STOCK = "not_enough_stock"
CANNOT_SERVE = "cannot_serve"
PAYMENT_METHOD = "payment_method"
WHOLESALE_RULE = "wholesale_rule"  # not whole cases, or a farm's minimum not met
EMAIL_UNCONFIRMED = "email_unconfirmed"  # the buyer has not opened the confirmation link

# HTTP status a view gives each refusal: a conflict with the current state is 409.
STATUS = {
    EMPTY_CART: 400,
    SLOT_UNKNOWN: 400,
    SLOT_FULL: 409,
    SLOT_CLOSED: 409,
    SLOT_CUT_OFF: 409,
    VARIANT_GONE: 409,
    NOT_ENOUGH_STOCK: 409,
    CANNOT_SERVE: 409,
    PAYMENT_METHOD: 400,
    WHOLESALE_RULE: 409,
    EMAIL_UNCONFIRMED: 403,
}


class CheckoutError(Exception):
    """A refused checkout: ``code`` above, ``message`` for people (a lazy translated
    string: str() it in a request), ``line`` the cart line concerned, if any."""

    def __init__(self, code: str, message, line: cart_service.CartLine | None = None):
        super().__init__(code)
        self.code = code
        self.message = message
        self.line = line

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)


class AlreadyPlaced(Exception):
    """The checkout form was sent before (``checkout_token``): ``order`` is the order it
    placed then; nothing new is placed."""

    def __init__(self, order: Order):
        super().__init__(order.id)
        self.order = order


CHECKOUT_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_checkout_token() -> str:
    """A random token for a form that places an order (see Order.checkout_token)."""
    return secrets.token_urlsafe(24)


def clean_checkout_token(raw) -> str | None:
    """The form's token, or None when missing or not one we could have made."""
    return raw if isinstance(raw, str) and CHECKOUT_TOKEN_RE.fullmatch(raw) else None


def order_by_token(session: Session, buyer_id: int, token: str | None) -> Order | None:
    if not token:
        return None
    return session.scalar(select(Order).where(Order.checkout_token == token,
                                              Order.buyer_id == buyer_id))


def place_once(session: Session, place: Callable[[str | None], Order], *, buyer_id: int,
               raw_token) -> tuple[Order, bool]:
    """Place an order from a form and commit: ``place(token)`` calls ``checkout`` with
    the form's checkout token (``raw_token``, cleaned here). Returns (order, True), or
    (the order this same form placed before, False) when it is sent again: a double
    click, the back button, two requests at once (the second then fails on the
    token's unique index). CheckoutError goes to the caller, which rolls back."""
    token = clean_checkout_token(raw_token)
    try:
        order = place(token)
        session.commit()
        return order, True
    except AlreadyPlaced as exc:
        session.rollback()
        return exc.order, False
    except IntegrityError:
        session.rollback()
        order = order_by_token(session, buyer_id, token)
        if order is None:
            raise
        return order, False


class TransitionError(ValueError):
    """A status change the state machine does not allow (or not to this actor)."""


# Checkout ---------------------------------------------------------------------------

def _line_name(line: cart_service.CartLine) -> str:
    if line.product_name:
        return f"{line.product_name} ({line.variant_label})"
    return _("An item of your cart")


def slot_problem(slot: PickupSlot | None, now: datetime) -> CheckoutError | None:
    """Why a buyer cannot choose this slot now, or None."""
    if slot is None:
        return CheckoutError(SLOT_UNKNOWN, _("Choose a pickup slot."))
    if slot.status != SlotStatus.OPEN:
        return CheckoutError(SLOT_CLOSED, _("This pickup slot is closed. Choose another one."))
    if slot.cutoff_at <= now:
        return CheckoutError(
            SLOT_CUT_OFF,
            _("Orders for this pickup slot are closed (past the cut-off). Choose another one."),
        )
    if slot.taken >= slot.capacity:
        return CheckoutError(SLOT_FULL, _("This pickup slot is full. Choose another one."))
    return None


def serving_problems(session: Session, view: cart_service.CartView, slot: PickupSlot, *,
                     tz: str, now: datetime, standing: bool = False,
                     standing_days_ahead: int = 7) -> dict[int, str]:
    """variant id -> why the slot cannot serve that cart line (producer's rounds, radius;
    a farm that serves standing orders first, until they are placed for the slot).
    ``standing``: the standing order job's own checkout, which that rule lets through."""
    problems: dict[int, str] = {}
    verdicts: dict[int, str | None] = {}
    if not view.lines:
        return problems
    point = slot.pickup_point or session.get(PickupPoint, slot.pickup_point_id)
    # Every farm of the cart at once: two queries, not two per farm.
    producer_ids = {line.producer_id for line in view.lines}
    producers = {producer.id: producer for producer in session.scalars(
        select(Producer).where(Producer.id.in_(producer_ids)))}
    served = serving(session, producers.values(), slot, tz=tz)
    for line in view.lines:
        if line.producer_id not in verdicts:
            if line.producer_id not in served:
                verdicts[line.producer_id] = _(
                    "%(producer)s does not deliver to %(point)s on that day.",
                    producer=line.producer_name, point=point.name,
                )
            elif (producers[line.producer_id].standing_orders_first
                  and slot.standing_placed_at is None and not standing):
                verdicts[line.producer_id] = _standing_first_problem(
                    line.producer_name, slot, tz=tz, now=now, days=standing_days_ahead)
            else:
                verdicts[line.producer_id] = None
        if verdicts[line.producer_id] is not None:
            problems[line.variant_id] = verdicts[line.producer_id]
    return problems


def _standing_first_problem(producer_name: str, slot: PickupSlot, *, tz: str,
                            now: datetime, days: int):
    """One-off orders for a farm serving standing orders first open when the standing
    order job reaches the slot: ``days`` (STANDING_ORDERS_DAYS_AHEAD) before it starts."""
    opens_at = slot.starts_at - timedelta(days=days)
    if opens_at <= now:
        # Within the job's reach, but it has not run for this slot yet (it runs often).
        return _("%(producer)s serves its restaurants' standing orders first: orders for "
                 "this date open in a few minutes.", producer=producer_name)
    return _("%(producer)s serves its restaurants' standing orders first: orders for this "
             "date open on %(date)s.", producer=producer_name,
             date=format_date(opens_at.astimezone(ZoneInfo(tz)).date(), "EEEE d MMMM"))


def _unavailable_error(line: cart_service.CartLine) -> CheckoutError:
    return CheckoutError(
        VARIANT_GONE,
        _("%(item)s is no longer sold: remove it from your cart.", item=_line_name(line)),
        line,
    )


def _reserve(session: Session, line: cart_service.CartLine) -> None:
    table = Variant.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == line.variant_id, table.c.stock >= line.quantity,
               table.c.is_active.is_(True))
        .values(stock=table.c.stock - line.quantity)
    )
    if result.rowcount == 1:
        return
    row = session.execute(
        select(table.c.stock, table.c.is_active).where(table.c.id == line.variant_id)
    ).first()
    if row is None or not row.is_active:
        raise _unavailable_error(line)
    left = row.stock
    if left <= 0:
        message = _("%(item)s is out of stock: remove it from your cart.", item=_line_name(line))
    else:
        message = ngettext(
            "Only %(num)d left of %(item)s: lower the quantity in your cart.",
            "Only %(num)d left of %(item)s: lower the quantity in your cart.",
            left, item=_line_name(line),
        )
    raise CheckoutError(NOT_ENOUGH_STOCK, message, line)


def checkout(session: Session, *, buyer, cart: dict, slot_id, now: datetime,
             tz: str = "Europe/Paris", hold: timedelta | None = None,
             payment_method: PaymentMethod = PaymentMethod.CARD,
             standing: bool = False, token: str | None = None,
             placed_by_id: int | None = None, config: Mapping) -> Order:
    """Turn the cart into an order for the slot, in the caller's transaction.

    Prices come from the database only. Raises CheckoutError; the caller must then
    roll back. Pay at pickup (where the point takes it): the order is confirmed at
    once and the buyer told. Card: the order waits for its payment and holds its
    stock and place until ``expires_at``: the slot's cut-off, or ``now + hold`` if
    sooner. ``standing``: the standing order job placing a template, which farms that
    serve standing orders first take before the slot's ``standing_placed_at``.
    ``token``: the form's checkout token; AlreadyPlaced when it placed an order
    before (and, sent twice at once, the second commit fails on the unique index:
    the caller then looks the order up with ``order_by_token``). ``placed_by_id``:
    the relay who places it for the buyer, if not the buyer.
    """
    existing = order_by_token(session, buyer.id, token)
    if existing is not None:
        raise AlreadyPlaced(existing)
    if buyer.email_confirmed_at is None and receives_mail(buyer.email):
        # Every order e-mails its buyer: an address no one confirmed gets nothing. (A
        # relay's neighbour has no address: a relay orders for them, and reads to them.)
        raise CheckoutError(EMAIL_UNCONFIRMED, _(
            "Confirm your e-mail address before ordering: open the link we sent you, "
            "or ask for a new one."))
    try:
        payment_method = PaymentMethod(payment_method)
    except ValueError:
        raise CheckoutError(PAYMENT_METHOD, _("Choose how to pay.")) from None
    cart = cart_service.load(cart)
    if not cart:
        raise CheckoutError(EMPTY_CART, _("Your cart is empty."))
    try:
        slot_id = int(slot_id)
    except (TypeError, ValueError):
        slot_id = None
    slot = get_by_id(session, PickupSlot, slot_id)
    if slot is not None and not slot.pickup_point.is_open_to(buyer.id):
        slot = None  # another restaurant's door: as if it did not exist
    problem = slot_problem(slot, now)
    if problem:
        raise problem
    view = cart_service.price_cart(cart, session, buyer=buyer)
    problem = pricing.checkout_problem(view)
    if problem:
        raise CheckoutError(WHOLESALE_RULE, problem.message, problem.line)
    if view.unavailable:
        raise _unavailable_error(view.unavailable[0])
    if not view.lines:
        raise CheckoutError(EMPTY_CART, _("Your cart is empty."))
    problems = serving_problems(session, view, slot, tz=tz, now=now, standing=standing,
                                standing_days_ahead=standing_days(config))
    for line in view.lines:
        if line.variant_id in problems:
            raise CheckoutError(CANNOT_SERVE, problems[line.variant_id], line)

    # The place first, then the stock in variant id order: concurrent checkouts
    # lock rows in the same order (no deadlock on PostgreSQL).
    if not pickup_services.take_place(session, slot.id, now=now):
        session.refresh(slot)
        raise slot_problem(slot, now) or CheckoutError(
            SLOT_FULL, _("This pickup slot is full. Choose another one."))
    for line in sorted(view.lines, key=lambda ln: ln.variant_id):
        _reserve(session, line)

    point = slot.pickup_point or session.get(PickupPoint, slot.pickup_point_id)
    if payment_method == PaymentMethod.INVOICE and not signals.invoice_terms_of(session, buyer):
        raise CheckoutError(PAYMENT_METHOD, _("Choose how to pay."))
    if payment_method == PaymentMethod.AT_PICKUP and not point.accepts_pay_at_pickup:
        raise CheckoutError(PAYMENT_METHOD, _(
            "%(point)s does not take payment at pickup: pay by card or choose another point.",
            point=point.name))
    expires_at = slot.cutoff_at if hold is None else min(slot.cutoff_at, now + hold)
    order = Order(buyer_id=buyer.id, pickup_slot_id=slot.id, status=OrderStatus.PENDING_PAYMENT,
                  currency=view.currency or CURRENCY, created_at=now, expires_at=expires_at,
                  total_cents=0, vat_cents=0, payment_method=payment_method,
                  checkout_token=token, placed_by_id=placed_by_id)
    for group in view.groups:
        producer = session.get(Producer, group.producer_id)
        km = _food_km(producer, point)
        sub = SubOrder(producer_id=group.producer_id, status=OrderStatus.PENDING_PAYMENT,
                       food_km=km, subtotal_cents=0, vat_cents=0)
        for line in group.lines:
            sub.lines.append(OrderLine(
                variant_id=line.variant_id,
                product_name=line.product_name,
                variant_label=line.variant_label,
                unit_price_cents=line.unit_price_cents,
                quantity=line.quantity,
                vat_rate_bp=line.vat_rate_bp,
                vat_cents=line.vat_cents,
                line_total_cents=line.total_cents,
                distance_km=km,
                net_quantity=line.net_quantity,
                net_unit=line.net_unit,
                allergens=line.allergens,
                allergen_traces=line.allergen_traces,
            ))
            sub.subtotal_cents += line.total_cents
            sub.vat_cents += line.vat_cents
        order.sub_orders.append(sub)
        order.total_cents += sub.subtotal_cents
        order.vat_cents += sub.vat_cents
    session.add(order)
    session.flush()
    if payment_method in (PaymentMethod.AT_PICKUP, PaymentMethod.INVOICE):
        confirm(session, order, now=now, config=config)
    return order


def confirm(session: Session, order: Order, *, now: datetime, config: Mapping) -> Order:
    """The order is sure: payment received, to be paid at pickup, or on invoice.
    Announced by ``signals.order_confirmed`` in the same transaction (wholesale issues
    a restaurant's invoices, notifications tells the buyer, once)."""
    transition(order, OrderStatus.CONFIRMED, Actor.SYSTEM)
    order.expires_at = None
    session.flush()
    signals.order_confirmed.send(order, session=session, now=now, config=config)
    return order


def standing_days(config: Mapping) -> int:
    """How many days before a date the standing order job places its orders."""
    return int(config.get("STANDING_ORDERS_DAYS_AHEAD", 7))


def _food_km(producer: Producer | None, point: PickupPoint) -> float:
    if producer is None or producer.latitude is None or producer.longitude is None:
        return 0.0
    return round(distance_km(producer, point), 3)


# State machine -------------------------------------------------------------------------

def allowed(current: OrderStatus, new: OrderStatus, actor: Actor) -> bool:
    return Actor(actor) in TRANSITIONS.get((OrderStatus(current), OrderStatus(new)), frozenset())


def transition(target: Order | SubOrder, new_status: OrderStatus, actor_role: Actor):
    """Move an order or a sub-order to ``new_status``; TransitionError if not allowed.

    Moving an order moves its sub-orders that were in the same status along.
    """
    new_status, actor_role = OrderStatus(new_status), Actor(actor_role)
    old = target.status
    if not allowed(old, new_status, actor_role):
        raise TransitionError(f"{actor_role.value} may not move {old.value} -> {new_status.value}")
    target.status = new_status
    if isinstance(target, Order):
        for sub in target.sub_orders:
            if sub.status == old:
                sub.status = new_status
    return target


def _give_back(session: Session, order: Order) -> None:
    table = Variant.__table__
    for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):
        if line.variant_id is None:
            continue  # the variant was deleted: nothing to give back to
        session.execute(
            update(table).where(table.c.id == line.variant_id)
            .values(stock=table.c.stock + line.quantity)
        )
    pickup_services.release_place(session, order.pickup_slot_id)


def _cancel_once(session: Session, order: Order, from_statuses) -> bool:
    """Mark cancelled with a conditional UPDATE and give stock and place back, once."""
    table = Order.__table__
    result = session.execute(
        update(table).where(table.c.id == order.id, table.c.status.in_(list(from_statuses)))
        .values(status=OrderStatus.CANCELLED)
    )
    if result.rowcount != 1:
        session.refresh(order)
        return False
    session.execute(
        update(SubOrder.__table__).where(SubOrder.__table__.c.order_id == order.id)
        .values(status=OrderStatus.CANCELLED)
    )
    _give_back(session, order)
    session.flush()
    session.expire(order, ["status"])
    for sub in order.sub_orders:
        session.expire(sub, ["status"])
    return True


def can_cancel(order: Order, actor: Actor, now: datetime) -> bool:
    if not allowed(order.status, OrderStatus.CANCELLED, actor):
        return False
    if Actor(actor) in (Actor.ADMIN, Actor.SYSTEM):
        return True
    return order.pickup_slot.cutoff_at > now


def cancel(order: Order, actor: Actor, now: datetime, *, session: Session, config: Mapping,
           reason: str = "") -> Order:
    """Cancel before the slot's cut-off (admin and system: any time it is allowed),
    giving the stock and the slot place back; ``signals.order_cancelled`` then lets
    payments refund what was paid by card (sent to Stripe after the commit), wholesale
    credit a restaurant's invoices and notifications tell the buyer.
    TransitionError otherwise."""
    actor = Actor(actor)
    if not allowed(order.status, OrderStatus.CANCELLED, actor):
        raise TransitionError(f"{actor.value} may not cancel a {order.status.value} order")
    if not can_cancel(order, actor, now):
        raise TransitionError("past the cut-off")
    if not _cancel_once(session, order, [order.status]):
        raise TransitionError("the order changed meanwhile")
    signals.order_cancelled.send(order, session=session, now=now, config=config,
                                 reason=reason, expired=False)
    return order


def expire_unpaid(session: Session, now: datetime, *, config: Mapping) -> int:
    """Cancel unpaid orders past ``expires_at``, giving stock and places back.

    Idempotent (and safe against a concurrent cancel): each order is switched with a
    conditional UPDATE and released only by the call that switched it.
    """
    orders = session.scalars(
        select(Order)
        .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .options(selectinload(Order.sub_orders).selectinload(SubOrder.lines))
        .order_by(Order.id)
    ).all()
    expired = 0
    for order in orders:
        if _cancel_once(session, order, [OrderStatus.PENDING_PAYMENT]):
            signals.order_cancelled.send(
                order, session=session, now=now, config=config,
                reason=_("The payment did not arrive in time."), expired=True)
            expired += 1
    return expired


def orders_of(session: Session, buyer, *, limit: int | None = None,
              offset: int = 0) -> list[Order]:
    """The buyer's orders, newest first, with their slot and point (what the list
    shows) in the same query."""
    return list(session.scalars(
        select(Order).where(Order.buyer_id == buyer.id)
        .options(joinedload(Order.pickup_slot).joinedload(PickupSlot.pickup_point))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit).offset(offset)
    ))


def order_of(session: Session, buyer, order_id: int, *, options=()) -> Order | None:
    """The buyer's order, or None (another buyer's order is not found); ``options``:
    loader options for what the caller reads of it."""
    order = get_by_id(session, Order, order_id, options=options)
    if order is None or order.buyer_id != buyer.id:
        return None
    return order


__all__ = [
    "ACTIVE_STATUSES", "CheckoutError", "TransitionError", "allowed", "can_cancel", "cancel",
    "checkout", "confirm", "expire_unpaid", "order_of", "orders_of", "serving_problems",
    "slot_problem", "transition",
]


@dataclass(frozen=True)
class FoodMiles:
    orders: int
    total_km: float

    @property
    def average_km(self) -> float:
        return self.total_km / self.orders if self.orders else 0.0


def food_miles_for_slot(session: Session, view, slot: PickupSlot) -> FoodMiles:
    """What the cart's farms would drive to this slot's pickup point: the food miles
    an order placed now would carry (one sub-order per farm)."""
    producer_ids = sorted({group.producer_id for group in view.groups})
    if not producer_ids:
        return FoodMiles(orders=0, total_km=0.0)
    point = session.get(PickupPoint, slot.pickup_point_id)
    farms = session.execute(
        select(Producer.latitude, Producer.longitude).where(Producer.id.in_(producer_ids))
    ).all()
    total = sum(
        distance_km((lat, lon), (point.latitude, point.longitude))
        for lat, lon in farms if lat is not None and lon is not None
    )
    return FoodMiles(orders=len(farms), total_km=total)
