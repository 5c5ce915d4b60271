"""Standing orders: a restaurant's weekly template (what, how much, where, which day),
turned into a real order for each new slot by a scheduled job (``run_standing``). The
tables are in models.py.

- One run per (standing order, slot), written FIRST under a unique constraint in the
  transaction that places the order: the job run twice, or by two processes at once,
  places one order.
- The run goes through the ordinary checkout (stock and slot place by conditional
  UPDATEs, prices and tiers from the database). A line that cannot be reserved (out
  of stock, not served that day, no longer sold) is left out and the rest is
  ordered; the restaurant and the farms concerned are told at once what could not
  be reserved.
- When it runs: ``STANDING_ORDERS_DAYS_AHEAD`` days before the slot (default 7).
  After a run, every open slot within reach has ``standing_placed_at`` set (one
  UPDATE, in the same transaction as the orders, only where it was still empty).
  A farm with ``standing_orders_first`` takes no one-off order for a slot until
  then (orders.services.serving_problems), so its restaurants' standing orders
  reserve its stock first; other farms sell to anyone as soon as the slot exists.
- Paused: no run. Skip: a run recorded as skipped for that slot, so the job leaves it;
  a date that already has a run (placed, or skipped) cannot be skipped.
- Made from a confirmed (or later) order only, once: a second "Repeat every week" on
  the same order, or on another order with the same point, weekday and lines, finds
  the template already there (``StandingOrderExists``) rather than making a twin
  whose orders would double every delivery.
- How the job's orders are paid (``payment_method_for``): nobody is at the screen when
  the job runs, so a card is the last resort. On invoice when the restaurant has
  payment terms, else at pickup where the point takes it, the template's own choice
  first when it is still possible; the order is then confirmed at once. Otherwise by
  card: the order holds its items for ``CARD_HOLD`` (never past the cut-off) and the
  restaurant is e-mailed at once a link to pay it (``/orders/<id>/pay``); unpaid, it
  expires like any card order and its items go back on sale. Without Stripe there is
  no way to pay: nothing is reserved and the restaurant is told, like a line that
  could not be reserved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _
from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts.models import User
from marketplace.models import get_by_id
from marketplace.notifications import orders as notify
from marketplace.notifications import services as outbox
from marketplace.orders import services as orders
from marketplace.orders.models import OrderStatus, PaymentMethod
from marketplace.payments import gateway
from marketplace.pickup.models import PickupSlot, SlotStatus
from marketplace.pickup.rounds import local_weekday
from marketplace.producers.models import Producer
from marketplace.wholesale import invoices

from .models import RunStatus, StandingOrder, StandingOrderLine, StandingOrderRun

log = logging.getLogger(__name__)

MAX_LINES = 200
# How long an order the job placed for card payment holds its items for the restaurant
# to pay it from the e-mail (capped by the slot's cut-off).
CARD_HOLD = timedelta(hours=24)


class StandingOrderError(ValueError):
    def __init__(self, message):
        super().__init__("refused")
        self.message = message


def standing_orders_of(session: Session, buyer_id: int) -> list[StandingOrder]:
    return list(session.scalars(
        select(StandingOrder).where(StandingOrder.buyer_id == buyer_id)
        .options(selectinload(StandingOrder.lines).joinedload(StandingOrderLine.variant))
        .order_by(StandingOrder.id)
    ).unique())


def standing_order_of(session: Session, buyer_id: int, standing_id: int) -> StandingOrder | None:
    standing = get_by_id(session, StandingOrder, standing_id)
    return standing if standing is not None and standing.buyer_id == buyer_id else None


class StandingOrderExists(StandingOrderError):
    """The order already repeats every week: ``standing`` is the template that does."""

    def __init__(self, message, standing: StandingOrder):
        super().__init__(message)
        self.standing = standing


def check_repeatable(order) -> None:
    """Only a confirmed order (or one further on: ready, collected) repeats every week:
    a cancelled one was not wanted, an unpaid one may never be. Raises
    StandingOrderError."""


    if order.status in (OrderStatus.CONFIRMED, OrderStatus.READY, OrderStatus.COLLECTED):
        return
    if order.status == OrderStatus.PENDING_PAYMENT:
        raise StandingOrderError(_("This order is not confirmed yet: it can repeat every "
                                   "week once it is paid."))
    raise StandingOrderError(_("A cancelled order cannot repeat every week."))


def _quantities(order) -> dict[int, int]:
    """variant id -> units, of what is still sold in the order (MAX_LINES at most)."""
    quantities: dict[int, int] = {}
    for line in order.lines:
        if line.variant_id is not None:
            quantities[line.variant_id] = quantities.get(line.variant_id, 0) + line.quantity
    return dict(list(quantities.items())[:MAX_LINES])


def _repeating(session: Session, order, *, pickup_point_id: int, weekday: int,
               quantities: dict[int, int]) -> StandingOrder | None:
    """The buyer's template that already repeats the order: made from it (or that
    placed it: either way a run links them), or the same point, weekday and lines."""
    linked = set(session.scalars(select(StandingOrderRun.standing_order_id)
                                 .where(StandingOrderRun.order_id == order.id)))
    for standing in standing_orders_of(session, order.buyer_id):
        if standing.id in linked or (
                standing.pickup_point_id == pickup_point_id and standing.weekday == weekday
                and {ln.variant_id: ln.quantity for ln in standing.lines} == quantities):
            return standing
    return None


def from_order(session: Session, order, *, tz: str) -> StandingOrder:
    """A weekly template repeating a past order: same point, same weekday, same lines
    (what is still sold). Raises StandingOrderExists when the buyer has one already
    (active or paused); the caller checks the order's state first
    (``check_repeatable``)."""


    # Two clicks at once (PostgreSQL): the second waits here for the first to commit,
    # then finds its template. (SQLite: write requests are serialised already.)
    session.execute(select(User.id).where(User.id == order.buyer_id).with_for_update())
    slot = order.pickup_slot
    weekday = local_weekday(slot, tz)
    quantities = _quantities(order)
    if not quantities:
        raise StandingOrderError(_("None of this order's items is still sold."))
    existing = _repeating(session, order, pickup_point_id=slot.pickup_point_id,
                          weekday=weekday, quantities=quantities)
    if existing is not None:
        raise StandingOrderExists(
            _("This order already repeats every week.") if existing.active else
            _("This order already repeats every week, but it is paused: resume it here."),
            existing)
    standing = StandingOrder(buyer_id=order.buyer_id, pickup_point_id=slot.pickup_point_id,
                             weekday=weekday, payment_method=order.payment_method.value,
                             name=slot.pickup_point.name)
    for variant_id, quantity in quantities.items():
        standing.lines.append(StandingOrderLine(variant_id=variant_id, quantity=quantity))
    session.add(standing)
    session.flush()
    # The order it repeats is this template's order for that date: the job must not
    # place a second one there.
    session.add(StandingOrderRun(standing_order_id=standing.id, pickup_slot_id=slot.id,
                                 order_id=order.id, status=RunStatus.PLACED))
    session.flush()
    return standing


def delete(session: Session, standing: StandingOrder) -> None:
    """The template goes, with its lines and runs; the orders it placed stay."""
    session.delete(standing)
    session.flush()


def runs_of(session: Session, standings, slots_of: dict[int, list]) -> dict[tuple[int, int],
                                                                          StandingOrderRun]:
    """(standing order id, slot id) -> its run, for the given slots of each standing
    order (``upcoming_slots_of``): one query."""
    standing_ids = [standing.id for standing in standings]
    slot_ids = {slot.id for slots in slots_of.values() for slot in slots}
    if not standing_ids or not slot_ids:
        return {}
    return {(run.standing_order_id, run.pickup_slot_id): run for run in session.scalars(
        select(StandingOrderRun).where(StandingOrderRun.standing_order_id.in_(standing_ids),
                                       StandingOrderRun.pickup_slot_id.in_(slot_ids)))}


def run_for(session: Session, standing: StandingOrder, slot_id: int) -> StandingOrderRun | None:
    return session.scalar(select(StandingOrderRun).where(
        StandingOrderRun.standing_order_id == standing.id,
        StandingOrderRun.pickup_slot_id == slot_id))


def skip(session: Session, standing: StandingOrder, slot_id: int) -> bool:
    """Skip one week: a run recorded as skipped. False if that slot already has a run
    (its order placed, or skipped already): cancelling a placed order is the buyer's
    ordinary cancel, with its cut-off and refund."""
    try:
        with session.begin_nested():
            session.add(StandingOrderRun(standing_order_id=standing.id, pickup_slot_id=slot_id,
                                         status=RunStatus.SKIPPED))
    except IntegrityError:
        return False
    return True


def _within_reach(now: datetime, days_ahead: int) -> list:
    """Open slots starting within ``days_ahead`` days and still before their cut-off."""

    return [PickupSlot.status == SlotStatus.OPEN, PickupSlot.cutoff_at > now,
            PickupSlot.starts_at <= now + timedelta(days=days_ahead)]


def _by_point_and_weekday(slots, tz: str) -> dict[tuple[int, int], list]:
    """(pickup point id, local weekday) -> its slots, in the order given."""

    grouped: dict[tuple[int, int], list] = {}
    for slot in slots:
        grouped.setdefault((slot.pickup_point_id, local_weekday(slot, tz)), []).append(slot)
    return grouped


def upcoming_slots_of(session: Session, standings, *, now: datetime, days_ahead: int,
                      tz: str) -> dict[int, list]:
    """standing order id -> the open slots of its point on its weekday, starting within
    ``days_ahead`` days and still before their cut-off, soonest first: one query for
    all of them."""

    points = {standing.pickup_point_id for standing in standings}
    if not points:
        return {}
    grouped = _by_point_and_weekday(session.scalars(
        select(PickupSlot).where(PickupSlot.pickup_point_id.in_(points),
                                 *_within_reach(now, days_ahead))
        .order_by(PickupSlot.starts_at, PickupSlot.id)
    ), tz)
    return {standing.id: grouped.get((standing.pickup_point_id, standing.weekday), [])
            for standing in standings}


def upcoming_slots(session: Session, standing: StandingOrder, *, now: datetime,
                   days_ahead: int, tz: str):
    """``upcoming_slots_of`` for one standing order."""
    return upcoming_slots_of(session, [standing], now=now, days_ahead=days_ahead,
                             tz=tz)[standing.id]


def payment_method_for(session: Session, standing: StandingOrder, buyer, point):
    """How the job's order for this template is paid (see the module's docstring): the
    template's own choice when it is invoice or at pickup and still possible, else on
    invoice (payment terms), else at pickup (the point takes it), else by card."""

    has_terms = bool(invoices.payment_terms_days(session, buyer))
    at_pickup = bool(point.accepts_pay_at_pickup)
    chosen = standing.payment_method
    if chosen == PaymentMethod.INVOICE.value and has_terms:
        return PaymentMethod.INVOICE
    if chosen == PaymentMethod.AT_PICKUP.value and at_pickup:
        return PaymentMethod.AT_PICKUP
    if has_terms:
        return PaymentMethod.INVOICE
    if at_pickup:
        return PaymentMethod.AT_PICKUP
    return PaymentMethod.CARD


def _place(session: Session, standing: StandingOrder, slot, *, now: datetime, tz: str,
           payment_method, config: Mapping):
    """Checkout the template for the slot, leaving out the lines that cannot be
    reserved. Returns (order or None, [(line name, reason)])."""

    cart = {str(line.variant_id): line.quantity for line in standing.lines}
    left_out: list[tuple[str, str]] = []
    buyer = standing_buyer(session, standing)
    hold = CARD_HOLD if payment_method == PaymentMethod.CARD else None
    while cart:
        try:
            with session.begin_nested():
                order = orders.checkout(
                    session, buyer=buyer, cart=dict(cart), slot_id=slot.id, now=now, tz=tz,
                    payment_method=payment_method, hold=hold, standing=True, config=config,
                )
            return order, left_out
        except orders.CheckoutError as exc:
            if exc.line is None or str(exc.line.variant_id) not in cart:
                left_out.append((_all_lines(standing), str(exc.message)))
                return None, left_out
            cart.pop(str(exc.line.variant_id))
            name = exc.line.product_name or str(exc.line.variant_id)
            left_out.append((f"{name} ({exc.line.variant_label})", str(exc.message)))
    return None, left_out


def _all_lines(standing: StandingOrder) -> str:
    return ", ".join(f"{line.variant.product.name} × {line.quantity}"
                     for line in standing.lines if line.variant is not None)


def standing_buyer(session: Session, standing: StandingOrder):
    return session.get(User, standing.buyer_id)


def run_standing(session: Session, *, now: datetime, tz: str, config: Mapping,
                 days_ahead: int = 7) -> dict:
    """Turn every active standing order into an order for each of its slots within
    ``days_ahead`` days that has no run yet, then mark every open slot within reach as
    placed (``standing_placed_at``): farms serving standing orders first take one-off
    orders for it from then on. Idempotent: the run row is taken first, under a unique
    constraint, and a slot already marked keeps its time. The caller commits (each run
    is its own savepoint; the orders and the marks are seen together). ``config``: the
    app's settings (Stripe, the site's language)."""
    from flask_babel import gettext as _  # the e-mail is rendered now, not lazily


    counts = {status.value: 0 for status in RunStatus}
    standings = session.scalars(
        select(StandingOrder).where(StandingOrder.active.is_(True))
        .options(selectinload(StandingOrder.lines))
        .order_by(StandingOrder.id)
    ).all()
    # The slots are read once: those the standing orders were placed for are exactly
    # those marked below, even if a slot is added meanwhile.
    slots = session.scalars(
        select(PickupSlot).where(*_within_reach(now, days_ahead))
        .order_by(PickupSlot.starts_at, PickupSlot.id)
    ).all()
    by_point = _by_point_and_weekday(slots, tz)
    for standing in standings:
        if not standing.lines:
            continue
        for slot in by_point.get((standing.pickup_point_id, standing.weekday), []):
            run = StandingOrderRun(standing_order_id=standing.id, pickup_slot_id=slot.id,
                                   status=RunStatus.FAILED)
            try:
                with session.begin_nested():
                    session.add(run)
            except IntegrityError:
                continue  # done before (or skipped, or by another runner)
            method = payment_method_for(session, standing, standing_buyer(session, standing),
                                        slot.pickup_point)
            if method == PaymentMethod.CARD and not gateway.is_configured(config):
                order, left_out = None, [(_all_lines(standing), _(
                    "%(point)s does not take payment at pickup and card payment is not "
                    "available: nothing could be ordered.", point=slot.pickup_point.name))]
            else:
                order, left_out = _place(session, standing, slot, now=now, tz=tz,
                                         payment_method=method, config=config)
            run.order_id = order.id if order is not None else None
            run.status = (RunStatus.FAILED if order is None
                          else RunStatus.PARTIAL if left_out else RunStatus.PLACED)
            run.message = "\n".join(f"{name}: {reason}" for name, reason in left_out)[:4000]
            session.flush()
            if left_out:
                _tell_what_is_missing(session, standing, slot, order, left_out)
            if order is not None and order.payment_method == PaymentMethod.CARD:
                notify.standing_order_to_pay(session, order)
            counts[run.status.value] += 1
    if slots:
        session.execute(
            update(PickupSlot)
            .where(PickupSlot.id.in_([slot.id for slot in slots]),
                   PickupSlot.standing_placed_at.is_(None))
            .values(standing_placed_at=now)
            .execution_options(synchronize_session=False)
        )
        for slot in slots:
            session.expire(slot, ["standing_placed_at"])
    return counts


def _tell_what_is_missing(session: Session, standing: StandingOrder, slot, order,
                          left_out) -> None:
    """The restaurant, and each farm of the template, learn at once what could not be
    reserved (one e-mail each per run, keyed by the run)."""
    from flask_babel import gettext as _  # the e-mail is rendered now, not lazily


    buyer = standing_buyer(session, standing)
    farm_ids = {line.variant.product.producer_id for line in standing.lines
                if line.variant is not None}
    recipients = [buyer] + list(session.scalars(
        select(User).join(Producer, Producer.user_id == User.id)
        .where(Producer.id.in_(farm_ids))))
    for user in recipients:
        with force_locale(user.locale or "fr"):
            body = render_template("mail/standing_missing.txt", user=user, buyer=buyer,
                                   slot=slot, order=order, left_out=left_out)
            subject = _("Standing order: some items could not be reserved")
        outbox.queue(session, to=user.email, subject=subject, body=body,
                     key=f"standing-missing:{standing.id}:{slot.id}:{user.id}")
