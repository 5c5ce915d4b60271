"""Standing orders: a restaurant's weekly template (what, how much, where, which day),
turned into a real order for each new slot by a scheduled job.

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
- Paused: no run. Skip: a run recorded as skipped for that slot, so the job leaves it.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from marketplace.accounts.models import enum_column
from marketplace.extensions import db
from marketplace.models import TimestampMixin, UTCDateTime, get_by_id, utcnow

log = logging.getLogger(__name__)

MAX_LINES = 200


class StandingOrder(TimestampMixin, db.Model):
    __tablename__ = "standing_orders"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # local weekday of the slots it orders for, 0 = Monday
    payment_method: Mapped[str] = mapped_column(String(20), default="at_pickup")
    name: Mapped[str] = mapped_column(String(120), default="")
    active: Mapped[bool] = mapped_column(default=True)

    lines: Mapped[list[StandingOrderLine]] = relationship(
        back_populates="standing_order", cascade="all, delete-orphan",
        order_by="StandingOrderLine.id",
    )
    pickup_point = relationship("PickupPoint")


class StandingOrderLine(db.Model):
    __tablename__ = "standing_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        UniqueConstraint("standing_order_id", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(
        ForeignKey("standing_orders.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"),
                                            index=True)
    quantity: Mapped[int]

    standing_order: Mapped[StandingOrder] = relationship(back_populates="lines")
    variant = relationship("Variant")


class RunStatus(enum.StrEnum):
    PLACED = "placed"  # every line reserved
    PARTIAL = "partial"  # some lines could not be reserved (told)
    FAILED = "failed"  # nothing could be reserved (told)
    SKIPPED = "skipped"  # the restaurant skipped that week


class StandingOrderRun(db.Model):
    """What the job did for one slot: written once (unique), so a second run does nothing."""

    __tablename__ = "standing_order_runs"
    __table_args__ = (UniqueConstraint("standing_order_id", "pickup_slot_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(
        ForeignKey("standing_orders.id", ondelete="CASCADE"), index=True
    )
    pickup_slot_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_slots.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Services ---------------------------------------------------------------------------------

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


def from_order(session: Session, order, *, tz: str) -> StandingOrder:
    """A weekly template repeating a past order: same point, same weekday, same lines
    (what is still sold)."""
    from marketplace.producers.rounds import local_weekday

    slot = order.pickup_slot
    standing = StandingOrder(buyer_id=order.buyer_id, pickup_point_id=slot.pickup_point_id,
                             weekday=local_weekday(slot, tz),
                             payment_method=order.payment_method.value,
                             name=slot.pickup_point.name)
    quantities: dict[int, int] = {}
    for line in order.lines:
        if line.variant_id is not None:
            quantities[line.variant_id] = quantities.get(line.variant_id, 0) + line.quantity
    if not quantities:
        from flask_babel import lazy_gettext as _

        raise StandingOrderError(_("None of this order's items is still sold."))
    for variant_id, quantity in list(quantities.items())[:MAX_LINES]:
        standing.lines.append(StandingOrderLine(variant_id=variant_id, quantity=quantity))
    session.add(standing)
    session.flush()
    # The order it repeats is this template's order for that date: the job must not
    # place a second one there.
    session.add(StandingOrderRun(standing_order_id=standing.id, pickup_slot_id=slot.id,
                                 order_id=order.id, status=RunStatus.PLACED))
    session.flush()
    return standing


def skip(session: Session, standing: StandingOrder, slot_id: int) -> bool:
    """Skip one week: a run recorded as skipped. False if that slot already has a run."""
    try:
        with session.begin_nested():
            session.add(StandingOrderRun(standing_order_id=standing.id, pickup_slot_id=slot_id,
                                         status=RunStatus.SKIPPED))
    except IntegrityError:
        return False
    return True


def _within_reach(now: datetime, days_ahead: int) -> list:
    """Open slots starting within ``days_ahead`` days and still before their cut-off."""
    from marketplace.pickup.models import PickupSlot, SlotStatus

    return [PickupSlot.status == SlotStatus.OPEN, PickupSlot.cutoff_at > now,
            PickupSlot.starts_at <= now + timedelta(days=days_ahead)]


def _by_point_and_weekday(slots, tz: str) -> dict[tuple[int, int], list]:
    """(pickup point id, local weekday) -> its slots, in the order given."""
    from marketplace.producers.rounds import local_weekday

    grouped: dict[tuple[int, int], list] = {}
    for slot in slots:
        grouped.setdefault((slot.pickup_point_id, local_weekday(slot, tz)), []).append(slot)
    return grouped


def upcoming_slots_of(session: Session, standings, *, now: datetime, days_ahead: int,
                      tz: str) -> dict[int, list]:
    """standing order id -> the open slots of its point on its weekday, starting within
    ``days_ahead`` days and still before their cut-off, soonest first: one query for
    all of them."""
    from marketplace.pickup.models import PickupSlot

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


def _place(session: Session, standing: StandingOrder, slot, *, now: datetime, tz: str):
    """Checkout the template for the slot, leaving out the lines that cannot be
    reserved. Returns (order or None, [(line name, reason)])."""
    from marketplace.orders import services as orders
    from marketplace.orders.models import PaymentMethod

    cart = {str(line.variant_id): line.quantity for line in standing.lines}
    left_out: list[tuple[str, str]] = []
    buyer = standing_buyer(session, standing)
    while cart:
        try:
            with session.begin_nested():
                order = orders.checkout(
                    session, buyer=buyer, cart=dict(cart), slot_id=slot.id, now=now, tz=tz,
                    payment_method=PaymentMethod(standing.payment_method), standing=True,
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
    from marketplace.accounts.models import User

    return session.get(User, standing.buyer_id)


def run_standing(session: Session, *, now: datetime, tz: str, days_ahead: int = 7) -> dict:
    """Turn every active standing order into an order for each of its slots within
    ``days_ahead`` days that has no run yet, then mark every open slot within reach as
    placed (``standing_placed_at``): farms serving standing orders first take one-off
    orders for it from then on. Idempotent: the run row is taken first, under a unique
    constraint, and a slot already marked keeps its time. The caller commits (each run
    is its own savepoint; the orders and the marks are seen together)."""
    from marketplace.pickup.models import PickupSlot

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
            order, left_out = _place(session, standing, slot, now=now, tz=tz)
            run.order_id = order.id if order is not None else None
            run.status = (RunStatus.FAILED if order is None
                          else RunStatus.PARTIAL if left_out else RunStatus.PLACED)
            run.message = "\n".join(f"{name}: {reason}" for name, reason in left_out)[:4000]
            session.flush()
            if left_out:
                _tell_what_is_missing(session, standing, slot, order, left_out)
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
    from flask import render_template
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from marketplace.accounts.models import User
    from marketplace.notifications import services as outbox
    from marketplace.producers.models import Producer

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
